//! Arrow columns read in place, and verification over them.
//!
//! A binary or string column of the Arrow format is three buffers: a validity bitmap (absent
//! when there are no nulls), offsets (`i32`, or `i64` for the large types) and the data; row
//! `i` of an array that starts `offset` rows into its buffers is `data[offsets[offset + i] ..
//! offsets[offset + i + 1]]`. These buffers are read as they are, with every offset checked
//! against the data, so a damaged buffer is an error, never a read out of bounds.

use rayon::prelude::*;

use crate::scheme::{verify_chunk, Delivery, Found, Scheme};
use crate::timestamp::{nanos_from_seconds, Window};

/// Why a column could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnError {
    /// A buffer too short for the rows it is said to hold.
    Short(&'static str),
    /// Offsets that decrease or point past the data, at a row.
    BadOffsets(usize),
}

impl std::fmt::Display for ColumnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short(what) => write!(f, "the {what} buffer is shorter than the array"),
            Self::BadOffsets(row) => {
                write!(f, "the offsets of row {row} are out of order or range")
            }
        }
    }
}

/// Whether row `index` (counted from the buffer's start) is valid; no bitmap means all are.
fn is_valid(validity: Option<&[u8]>, index: usize) -> bool {
    match validity {
        Some(bits) => bits[index / 8] & (1 << (index % 8)) != 0,
        None => true,
    }
}

fn check_validity(validity: Option<&[u8]>, end: usize) -> Result<(), ColumnError> {
    match validity {
        Some(bits) if bits.len() < end.div_ceil(8) => Err(ColumnError::Short("validity")),
        _ => Ok(()),
    }
}

/// A binary (or UTF-8 string) column.
#[derive(Debug, Clone, Copy)]
pub struct BinaryColumn<'a> {
    offset: usize,
    len: usize,
    validity: Option<&'a [u8]>,
    offsets: &'a [u8],
    /// Bytes per offset: 4 (`binary`, `string`) or 8 (`large_binary`, `large_string`).
    width: usize,
    data: &'a [u8],
}

impl<'a> BinaryColumn<'a> {
    pub fn new(
        offset: usize,
        len: usize,
        validity: Option<&'a [u8]>,
        offsets: &'a [u8],
        large: bool,
        data: &'a [u8],
    ) -> Result<Self, ColumnError> {
        let width = if large { 8 } else { 4 };
        let end = offset.checked_add(len).ok_or(ColumnError::Short("offsets"))?;
        if offsets.len() / width < end + 1 {
            return Err(ColumnError::Short("offsets"));
        }
        check_validity(validity, end)?;
        Ok(Self { offset, len, validity, offsets, width, data })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn offset_at(&self, index: usize) -> Option<usize> {
        let bytes = &self.offsets[index * self.width..(index + 1) * self.width];
        if self.width == 8 {
            usize::try_from(i64::from_ne_bytes(bytes.try_into().ok()?)).ok()
        } else {
            usize::try_from(i32::from_ne_bytes(bytes.try_into().ok()?)).ok()
        }
    }

    /// The value of `row`, `None` when it is null.
    pub fn get(&self, row: usize) -> Result<Option<&'a [u8]>, ColumnError> {
        debug_assert!(row < self.len);
        let index = self.offset + row;
        if !is_valid(self.validity, index) {
            return Ok(None);
        }
        let range = self.offset_at(index).zip(self.offset_at(index + 1));
        match range {
            Some((start, end)) if start <= end && end <= self.data.len() => {
                Ok(Some(&self.data[start..end]))
            }
            _ => Err(ColumnError::BadOffsets(row)),
        }
    }
}

/// A `float64` column (seconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct FloatColumn<'a> {
    offset: usize,
    validity: Option<&'a [u8]>,
    values: &'a [u8],
}

impl<'a> FloatColumn<'a> {
    pub fn new(
        offset: usize,
        len: usize,
        validity: Option<&'a [u8]>,
        values: &'a [u8],
    ) -> Result<Self, ColumnError> {
        let end = offset.checked_add(len).ok_or(ColumnError::Short("values"))?;
        if values.len() / 8 < end {
            return Err(ColumnError::Short("values"));
        }
        check_validity(validity, end)?;
        Ok(Self { offset, validity, values })
    }

    pub fn get(&self, row: usize) -> Option<f64> {
        let index = self.offset + row;
        let bytes = self.values[index * 8..index * 8 + 8].try_into().ok()?;
        is_valid(self.validity, index).then(|| f64::from_ne_bytes(bytes)).filter(|v| v.is_finite())
    }
}

/// The current time each row is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Times<'a> {
    /// No timestamp check.
    Skip,
    /// One window for every row.
    Fixed(Window),
    /// Each row's own time (a null time skips that row's check), with this tolerance.
    Column(FloatColumn<'a>, i128),
}

impl Times<'_> {
    fn window(&self, row: usize) -> Option<Window> {
        match self {
            Self::Skip => None,
            Self::Fixed(window) => Some(*window),
            Self::Column(times, tolerance_nanos) => times.get(row).map(|seconds| Window {
                now_nanos: nanos_from_seconds(seconds),
                tolerance_nanos: *tolerance_nanos,
            }),
        }
    }
}

/// The columns of one batch of deliveries, for a scheme: per header slot, the columns that
/// may fill it (with the index of the slot's name each stands for), preferred first.
pub struct Columns<'a> {
    pub body: BinaryColumn<'a>,
    pub slots: Vec<Vec<(usize, BinaryColumn<'a>)>>,
    pub url: Option<BinaryColumn<'a>>,
    pub times: Times<'a>,
}

impl Columns<'_> {
    /// Whether each row verifies, in order, `chunk` rows at a time on this process's thread
    /// pool (see [`crate::batch::pool`]; on the calling thread when there is none).
    pub fn verify<S: Scheme>(&self, scheme: &S, chunk: usize) -> Result<Vec<bool>, ColumnError> {
        let chunk = chunk.max(1);
        let mut results = vec![false; self.body.len()];
        let verify_all = |results: &mut Vec<bool>| {
            results
                .par_chunks_mut(chunk)
                .enumerate()
                .try_for_each(|(index, out)| self.verify_rows::<S>(scheme, index * chunk, out))
        };
        match crate::batch::pool() {
            Some(pool) => pool.install(|| verify_all(&mut results))?,
            None => {
                for (index, out) in results.chunks_mut(chunk).enumerate() {
                    self.verify_rows::<S>(scheme, index * chunk, out)?;
                }
            }
        }
        Ok(results)
    }

    /// One row as a scheme reads it: body, header slots, URL and window.
    fn row<S: Scheme>(&self, row: usize) -> Result<Row<'_>, ColumnError> {
        let mut headers = Vec::with_capacity(self.slots.len());
        for (slot, columns) in self.slots.iter().enumerate() {
            let mut found = None;
            for (name, column) in columns {
                if let Some(value) = column.get(row)? {
                    found = Some(Found { name: S::HEADERS[slot][*name], value });
                    break;
                }
            }
            headers.push(found);
        }
        let url = match &self.url {
            Some(column) => column.get(row)?,
            None => None,
        };
        Ok(Row { body: self.body.get(row)?, headers, url, window: self.times.window(row) })
    }

    fn verify_rows<S: Scheme>(
        &self,
        scheme: &S,
        start: usize,
        out: &mut [bool],
    ) -> Result<(), ColumnError> {
        let rows = (start..start + out.len())
            .map(|row| self.row::<S>(row))
            .collect::<Result<Vec<_>, _>>()?;
        let deliveries = rows.iter().map(|row| {
            let delivery =
                row.body.map(|body| Delivery { body, headers: &row.headers, url: row.url });
            delivery.map(|delivery| (delivery, row.window))
        });
        for (slot, result) in out.iter_mut().zip(verify_chunk(scheme, deliveries)) {
            *slot = matches!(result, Some(Ok(())));
        }
        Ok(())
    }
}

struct Row<'a> {
    body: Option<&'a [u8]>,
    headers: Vec<Option<Found<'a>>>,
    url: Option<&'a [u8]>,
    window: Option<Window>,
}

/// Booleans as an Arrow bitmap: least significant bit first.
pub fn pack_bits(values: &[bool]) -> Vec<u8> {
    let mut bits = vec![0u8; values.len().div_ceil(8)];
    for (i, _) in values.iter().enumerate().filter(|(_, v)| **v) {
        bits[i / 8] |= 1 << (i % 8);
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::body::{BodyKeys, Hub};
    use crate::scheme::Rejection;

    /// The rejection a row gets.
    fn explain<S: Scheme>(scheme: &S, columns: &Columns<'_>, row: usize) -> Result<(), Rejection> {
        let row = columns.row::<S>(row).unwrap();
        let delivery =
            Delivery { body: row.body.unwrap_or_default(), headers: &row.headers, url: row.url };
        scheme.verify(&delivery, row.window)
    }
    use crate::standard::{StandardKey, StandardKeys};

    /// Arrow buffers for `values` (`None` = null): validity, offsets and data.
    fn buffers(values: &[Option<&[u8]>], large: bool) -> (Option<Vec<u8>>, Vec<u8>, Vec<u8>) {
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        let push = |offsets: &mut Vec<u8>, at: usize| {
            if large {
                offsets.extend_from_slice(&(at as i64).to_ne_bytes());
            } else {
                offsets.extend_from_slice(&(at as i32).to_ne_bytes());
            }
        };
        push(&mut offsets, 0);
        for value in values {
            data.extend_from_slice(value.unwrap_or_default());
            push(&mut offsets, data.len());
        }
        let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
        let validity = valid.contains(&false).then(|| pack_bits(&valid));
        (validity, offsets, data)
    }

    #[test]
    fn reads_values_nulls_and_offsets() {
        for large in [false, true] {
            let values: [Option<&[u8]>; 4] = [Some(b"ab"), None, Some(b""), Some(b"xyz")];
            let (validity, offsets, data) = buffers(&values, large);
            let column =
                BinaryColumn::new(0, 4, validity.as_deref(), &offsets, large, &data).unwrap();
            let read: Vec<_> = (0..4).map(|row| column.get(row).unwrap()).collect();
            assert_eq!(read, values);
            // A slice that starts one row in.
            let sliced =
                BinaryColumn::new(1, 3, validity.as_deref(), &offsets, large, &data).unwrap();
            assert_eq!(sliced.get(2).unwrap(), Some(&b"xyz"[..]));
            assert_eq!(sliced.get(0).unwrap(), None);
        }
    }

    #[test]
    fn damaged_buffers_are_errors() {
        let (_, offsets, data) = buffers(&[Some(b"abc"), Some(b"de")], false);
        assert_eq!(
            BinaryColumn::new(0, 3, None, &offsets, false, &data).err(),
            Some(ColumnError::Short("offsets"))
        );
        assert_eq!(
            BinaryColumn::new(0, 2, Some(&[]), &offsets, false, &data).err(),
            Some(ColumnError::Short("validity"))
        );
        let column = BinaryColumn::new(0, 2, None, &offsets, false, &data[..4]).unwrap();
        assert_eq!(column.get(1), Err(ColumnError::BadOffsets(1)));
        let mut backwards = offsets.clone();
        backwards[4..8].copy_from_slice(&9i32.to_ne_bytes());
        let column = BinaryColumn::new(0, 2, None, &backwards, false, &data).unwrap();
        assert_eq!(column.get(1), Err(ColumnError::BadOffsets(1)));
        let mut negative = offsets;
        negative[0..4].copy_from_slice(&(-1i32).to_ne_bytes());
        let column = BinaryColumn::new(0, 2, None, &negative, false, &data).unwrap();
        assert_eq!(column.get(0), Err(ColumnError::BadOffsets(0)));
    }

    #[test]
    fn floats_and_bits() {
        let values: Vec<u8> =
            [1.5f64, f64::NAN, 3.0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let column = FloatColumn::new(0, 3, Some(&[0b101]), &values).unwrap();
        assert_eq!([column.get(0), column.get(1), column.get(2)], [Some(1.5), None, Some(3.0)]);
        assert!(FloatColumn::new(1, 3, None, &values).is_err());
        assert_eq!(
            pack_bits(&[true, false, true, true, false, false, false, false, true]),
            [0b1101, 1]
        );
    }

    #[test]
    fn verifies_rows_like_single_deliveries() {
        let keys = BodyKeys::<Hub>::new(&[b"secret"]).unwrap();
        let bodies: Vec<Vec<u8>> = (0..300).map(|i| format!("body {i}").into_bytes()).collect();
        let signatures: Vec<Option<Vec<u8>>> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| match i % 5 {
                0 => None,
                1 => Some(keys.sign(b"other").into_bytes()),
                _ => Some(keys.sign(body).into_bytes()),
            })
            .collect();
        let body_values: Vec<Option<&[u8]>> = bodies.iter().map(|b| Some(b.as_slice())).collect();
        let sig_values: Vec<Option<&[u8]>> = signatures.iter().map(|s| s.as_deref()).collect();
        let (_, body_offsets, body_data) = buffers(&body_values, false);
        let (sig_validity, sig_offsets, sig_data) = buffers(&sig_values, true);
        let columns = Columns {
            body: BinaryColumn::new(0, 300, None, &body_offsets, false, &body_data).unwrap(),
            slots: vec![vec![(
                0,
                BinaryColumn::new(0, 300, sig_validity.as_deref(), &sig_offsets, true, &sig_data)
                    .unwrap(),
            )]],
            url: None,
            times: Times::Skip,
        };
        let results = columns.verify(&keys, 64).unwrap();
        let expected: Vec<bool> = (0..300).map(|i| i % 5 >= 2).collect();
        assert_eq!(results, expected);
        assert_eq!(
            explain(&keys, &columns, 0),
            Err(Rejection::MissingHeader("x-hub-signature-256"))
        );
        assert_eq!(explain(&keys, &columns, 2), Ok(()));
    }

    #[test]
    fn alias_columns_and_times() {
        let keys = StandardKeys::single(StandardKey::from_key_bytes(b"k"));
        let sig = keys.sign(b"m", 1000, b"{}");
        let ids: [Option<&[u8]>; 3] = [Some(b"m"), None, Some(b"m")];
        let svix_ids: [Option<&[u8]>; 3] = [None, Some(b"m"), None];
        let stamps: [Option<&[u8]>; 3] = [Some(b"1000"); 3];
        let sigs: [Option<&[u8]>; 3] = [Some(sig.as_bytes()); 3];
        let body: [Option<&[u8]>; 3] = [Some(b"{}"); 3];
        let bufs: Vec<_> = [&ids[..], &svix_ids, &stamps, &sigs, &body]
            .iter()
            .map(|v| buffers(v, false))
            .collect();
        let column = |i: usize| {
            let (validity, offsets, data) = &bufs[i];
            BinaryColumn::new(0, 3, validity.as_deref(), offsets, false, data).unwrap()
        };
        let times: Vec<u8> =
            [1000.0f64, 5000.0, 1300.0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let columns = Columns {
            body: column(4),
            slots: vec![
                vec![(0, column(0)), (1, column(1))],
                vec![(0, column(2))],
                vec![(0, column(3))],
            ],
            url: None,
            times: Times::Column(
                FloatColumn::new(0, 3, None, &times).unwrap(),
                300 * 1_000_000_000,
            ),
        };
        assert_eq!(columns.verify(&keys, 2).unwrap(), [true, false, true]);
        assert_eq!(explain(&keys, &columns, 1), Err(Rejection::TooOld));
    }
}
