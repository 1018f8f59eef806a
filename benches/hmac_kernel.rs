//! The HMAC-SHA256 kernel against OpenSSL on the same machine.
//!
//! Run with `cargo bench --bench hmac_kernel`. It times relaywire's kernel at several sizes,
//! runs `openssl speed -hmac sha256` at 16 KiB (if the `openssl` command exists), alternating
//! the two three times, and prints the best throughput of each and their ratio.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use _native::mac::MacKey;

const TARGET_SIZE: usize = 16 * 1024;

/// Bytes per second of `MacKey::tag` on `size`-byte messages, measured for about `budget`.
fn kernel_throughput(size: usize, budget: Duration) -> f64 {
    let key = MacKey::new(b"benchmark secret");
    let message = vec![0x5au8; size];
    let mut iterations = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..64 {
            black_box(key.tag(&[black_box(&message)]));
        }
        iterations += 64;
    }
    (iterations as f64 * size as f64) / start.elapsed().as_secs_f64()
}

/// Bytes per second that `openssl speed` reports for HMAC-SHA256 at `size` bytes.
fn openssl_throughput(size: usize, seconds: u32) -> Option<f64> {
    let output = Command::new("openssl")
        .args(["speed", "-hmac", "sha256", "-bytes", &size.to_string()])
        .args(["-seconds", &seconds.to_string()])
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The result line reads `hmac(sha256)   1804150.09k`, in thousands of bytes per second.
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with("hmac(sha256)"))?;
    let value = line.split_whitespace().last()?.strip_suffix('k')?;
    value.parse::<f64>().ok().map(|k| k * 1000.0)
}

fn main() {
    println!("relaywire HMAC-SHA256 kernel (pre-keyed), best of 3 runs");
    println!("{:>10}  {:>12}", "size", "MB/s");
    for size in [64usize, 256, 1024, 16 * 1024, 1024 * 1024] {
        let best =
            (0..3).map(|_| kernel_throughput(size, Duration::from_millis(300))).fold(0.0, f64::max);
        println!("{size:>10}  {:>12.1}", best / 1e6);
    }

    let mut ours = 0.0f64;
    let mut theirs: Option<f64> = None;
    for _ in 0..3 {
        ours = ours.max(kernel_throughput(TARGET_SIZE, Duration::from_secs(2)));
        if let Some(rate) = openssl_throughput(TARGET_SIZE, 2) {
            theirs = Some(theirs.map_or(rate, |best| best.max(rate)));
        }
    }
    println!();
    println!("at {TARGET_SIZE} bytes:");
    println!("  relaywire kernel  {:>10.1} MB/s", ours / 1e6);
    match theirs {
        Some(rate) => {
            println!("  openssl speed     {:>10.1} MB/s", rate / 1e6);
            println!("  openssl / relaywire = {:.3}x (target: <= 1.10x)", rate / ours);
        }
        None => println!("  openssl speed: not available on this machine; no ratio"),
    }
}
