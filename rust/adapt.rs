//! The self-hosted Linktor server's records read as the SDK's models, on the JSON tape.
//!
//! `linktor._dialect` adapts a decoded server record (a dict) into the fields of an SDK model
//! (`adapt_message`, `adapt_conversation`, ...), and `linktor.websocket` turns realtime
//! payloads into the fields of its events; pydantic then validates the dict. The functions
//! here apply the same rules to a parsed document and return a [`Val`]: the dict the Python
//! rules would have built, with its values still nodes of the document where the rules pass
//! them through. The pyo3 layer (`ModelPlan`) then builds the models from it.
//!
//! The Python functions stay the reference and the fallback: whenever a record holds
//! something these rules do not reproduce exactly (a type the Python code would stringify,
//! iterate oddly or fail on, a non-ASCII string where Python's Unicode rules matter), the
//! functions answer [`Decline`] and the caller runs the Python path on the whole body. The
//! property tests of `tests/test_linktor_native.py` compare both on random records.

use std::borrow::Cow;

use crate::json::{same_bytes, Doc, Node, NodeId};

/// The rules cannot promise exactly the Python result: use the Python path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

pub type Adapted<'a> = Result<Val<'a>, Decline>;

/// A string the rules produce: bytes of the document or of their own (UTF-8 either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub ascii: bool,
}

impl<'a> Text<'a> {
    pub fn of_static(text: &'static str) -> Self {
        Self { bytes: Cow::Borrowed(text.as_bytes()), ascii: text.is_ascii() }
    }

    pub fn owned(text: Vec<u8>) -> Self {
        let ascii = text.is_ascii();
        Self { bytes: Cow::Owned(text), ascii }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One value of an adapted record.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// A value of the document, as `json.loads` returns it.
    Node(NodeId),
    /// Python's `None` (a key the Python rules set from a missing one: `d.get(key)`).
    None,
    Bool(bool),
    Int(i64),
    Text(Text<'a>),
    Obj(Obj<'a>),
    List(Vec<Val<'a>>),
    /// `_media_mime(url, kind, attachment)`: asked of Python, which reads its `mimetypes`
    /// tables. Boxed: the other variants are half its size, and a message's adapted fields
    /// are a vector of them.
    MediaMime(Box<MediaMime<'a>>),
    /// The object at the node validated as the field's model, or `None` if the model refuses
    /// it (`contextlib.suppress(ValidationError)` around `Model.model_validate`).
    ModelOrNone(NodeId),
}

/// The arguments of a [`Val::MediaMime`] (the attachment is the first one's object node, if
/// any).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaMime<'a> {
    pub url: Text<'a>,
    pub kind: Text<'a>,
    pub attachment: Option<NodeId>,
}

/// A dict the rules build: `{**base, key: value, ...}`. A key set again keeps its first
/// place and takes the last value, as in a Python dict.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj<'a> {
    pub base: Option<NodeId>,
    pub entries: Vec<(&'static str, Val<'a>)>,
}

impl<'a> Obj<'a> {
    pub fn new(entries: Vec<(&'static str, Val<'a>)>) -> Self {
        Self { base: None, entries }
    }

    pub fn spread(base: NodeId, entries: Vec<(&'static str, Val<'a>)>) -> Self {
        Self { base: Some(base), entries }
    }

    /// `d[key] = value`.
    pub fn set(&mut self, key: &'static str, value: Val<'a>) {
        match self.entries.iter_mut().find(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes())) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }
}

/// A word of a table.
pub type Word = Box<[u8]>;
/// A mapping of words, scanned (the tables are a few entries long).
pub type WordMap = Vec<(Word, Word)>;

/// `fit(kind, value)`: the SDK enum's values, and the nearest of them for server words the
/// enum lacks.
#[derive(Debug, Clone, Default)]
pub struct Fit {
    pub allowed: Vec<Word>,
    pub nearest: WordMap,
}

impl Fit {
    fn apply<'a>(&self, text: Text<'a>) -> Text<'a> {
        if self.allowed.iter().any(|v| same_bytes(v, &text.bytes)) {
            return text;
        }
        match self.nearest.iter().find(|(from, _)| same_bytes(from, &text.bytes)) {
            Some((_, to)) => Text::owned(to.to_vec()),
            None => text,
        }
    }

    fn contains(&self, bytes: &[u8]) -> bool {
        self.allowed.iter().any(|v| same_bytes(v, bytes))
    }
}

/// The data `linktor._dialect` keeps in module constants, handed over when a plan is made.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub content_type: Fit,
    pub sender_type: Fit,
    pub conversation_status: Fit,
    pub channel_type: Fit,
    pub bot_status: Fit,
    pub bot_type: Fit,
    pub node_type: Fit,
    /// `_MEDIA_CONTENT_TYPES`.
    pub media_content_types: Vec<Word>,
    /// `_CHANNEL_STATUS`: a server connection status to the SDK channel status.
    pub channel_status: WordMap,
    /// `_WEEKDAYS`.
    pub weekdays: Vec<(Word, i64)>,
    /// `UNKNOWN_CHANNEL_TYPE`.
    pub unknown_channel_type: Word,
    /// The characters `str.isspace()` is true for (what `\s` matches in `_URL`).
    pub spaces: Vec<char>,
}

/// What a conversation's channel type is, from the client's cache of the server's channels.
pub enum ChannelType {
    Known(Vec<u8>),
    /// The cache does not know the channel: the caller asks the server's channel list first,
    /// as the Python path does before adapting.
    Unknown,
    /// The cache holds something that is not a string.
    Odd,
}

/// Which adaptation a server record needs (the `adapt_*` function of `linktor._dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// The record as it is.
    Plain,
    Message,
    Conversation,
    Contact,
    Channel,
    Bot,
    KnowledgeBase,
    KbItem,
    Flow,
}

impl Adapter {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "plain" => Self::Plain,
            "message" => Self::Message,
            "conversation" => Self::Conversation,
            "contact" => Self::Contact,
            "channel" => Self::Channel,
            "bot" => Self::Bot,
            "knowledge_base" => Self::KnowledgeBase,
            "kb_item" => Self::KbItem,
            "flow" => Self::Flow,
            _ => return None,
        })
    }
}

/// How a realtime frame's payload becomes its event's fields (`linktor.websocket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// The payload as it is (`connected`, `presence`, `typing`, `error`).
    Payload,
    /// `_message_event`.
    Message,
    /// `_status_event`.
    Status,
    /// `_conversation_event`.
    Conversation,
}

impl Recipe {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "payload" => Self::Payload,
            "message" => Self::Message,
            "status" => Self::Status,
            "conversation" => Self::Conversation,
            _ => return None,
        })
    }
}

/// Python's truth value of the decoded JSON value at `id` (`None`: an absent key).
pub fn truthy(doc: &Doc<'_>, id: Option<NodeId>) -> bool {
    let Some(id) = id else { return false };
    match doc.node(id) {
        Node::Null => false,
        Node::Bool(b) => b,
        Node::Int(i) => i != 0,
        Node::BigInt { .. } => true,
        Node::Float(f) => f != 0.0,
        Node::Str(s) => s.byte_len() > 0,
        Node::Array(c) | Node::Object(c) => c.len > 0,
    }
}

/// A key lookup with Python's `dict.get` on a decoded object.
enum Source<'o, 'a> {
    Node(Option<NodeId>),
    Obj(&'o Obj<'a>),
}

/// The rules, over one document.
pub struct Rules<'d, 'a> {
    pub doc: &'d Doc<'a>,
    pub tables: &'d Tables,
}

impl<'a> Rules<'_, 'a> {
    fn is_object(&self, id: Option<NodeId>) -> bool {
        id.is_some_and(|id| matches!(self.doc.node(id), Node::Object(_)))
    }

    /// `d.get(key)` on the object at `id` (the last of duplicate keys, as `json.loads` keeps).
    fn get(&self, id: Option<NodeId>, key: &str) -> Option<NodeId> {
        id.filter(|&id| matches!(self.doc.node(id), Node::Object(_)))
            .and_then(|id| self.doc.get(id, key.as_bytes()))
    }

    /// `d.get(key)` for each of `keys`, in one pass over the object's entries.
    fn pick<const N: usize>(&self, id: Option<NodeId>, keys: [&str; N]) -> [Option<NodeId>; N] {
        let mut found = [None; N];
        if let Some(id) = id.filter(|&id| matches!(self.doc.node(id), Node::Object(_))) {
            for (key, value) in self.doc.entries(id) {
                let key = self.doc.str_bytes(key);
                if let Some(i) = keys.iter().position(|k| same_bytes(k.as_bytes(), key)) {
                    found[i] = Some(value);
                }
            }
        }
        found
    }

    fn val(id: Option<NodeId>) -> Val<'a> {
        id.map_or(Val::None, Val::Node)
    }

    fn is_null(&self, id: Option<NodeId>) -> bool {
        id.map_or(true, |id| matches!(self.doc.node(id), Node::Null))
    }

    /// Python's truth value of a decoded JSON value (`None` when the key is absent).
    pub fn truthy(&self, id: Option<NodeId>) -> bool {
        truthy(self.doc, id)
    }

    fn val_truthy(&self, val: &Val<'_>) -> bool {
        match val {
            Val::Node(id) => self.truthy(Some(*id)),
            Val::None => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Text(t) => !t.is_empty(),
            Val::Obj(o) => o.base.is_some_and(|b| self.truthy(Some(b))) || !o.entries.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::MediaMime(_) | Val::ModelOrNone(_) => true,
        }
    }

    fn text(&self, id: Option<NodeId>) -> Option<Text<'a>> {
        let s = self.doc.as_str(id?)?;
        Some(Text { bytes: Cow::Borrowed(self.doc.str_bytes(s)), ascii: s.is_ascii() })
    }

    /// `a or b or ... or last`: the first truthy value, else the last one as it is.
    fn or(&self, ids: &[Option<NodeId>]) -> Val<'a> {
        let (last, first) = ids.split_last().expect("at least one value");
        first.iter().copied().find(|&id| self.truthy(id)).map_or(Self::val(*last), Self::val)
    }

    /// `value or default`.
    fn or_else(&self, id: Option<NodeId>, default: Val<'a>) -> Val<'a> {
        if self.truthy(id) {
            Self::val(id)
        } else {
            default
        }
    }

    /// `fit(kind, value)` on a decoded value: strings are mapped; other scalars pass (the
    /// model then decides); containers would raise `TypeError` in Python (unhashable).
    fn fit(&self, fit: &Fit, id: Option<NodeId>) -> Adapted<'a> {
        match id.map(|id| self.doc.node(id)) {
            None => Ok(Val::None),
            Some(Node::Str(_)) => Ok(Val::Text(fit.apply(self.text(id).expect("a string")))),
            Some(Node::Array(_) | Node::Object(_)) => Err(Decline),
            Some(_) => Ok(Self::val(id)),
        }
    }

    /// `_first(d, *keys)`: the first value that is not `None`.
    fn first(&self, source: &Source<'_, 'a>, keys: &[&str]) -> Val<'a> {
        for key in keys {
            match source {
                Source::Node(id) => {
                    let found = self.get(*id, key);
                    if !self.is_null(found) {
                        return Self::val(found);
                    }
                }
                Source::Obj(obj) => {
                    if let Some(found) = self.obj_get(obj, key) {
                        if !self.val_is_none(&found) {
                            return found;
                        }
                    }
                }
            }
        }
        Val::None
    }

    fn val_is_none(&self, val: &Val<'_>) -> bool {
        match val {
            Val::None => true,
            Val::Node(id) => self.is_null(Some(*id)),
            _ => false,
        }
    }

    /// `d.get(key)` on a built dict (`None` for an absent key).
    fn obj_get(&self, obj: &Obj<'a>, key: &str) -> Option<Val<'a>> {
        if let Some((_, value)) =
            obj.entries.iter().find(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
        {
            return Some(value.clone());
        }
        self.get(obj.base, key).map(Val::Node)
    }

    /// A list the Python code iterates (`x or []`): an array's elements, or no elements for
    /// a falsy value; anything else it would iterate another way.
    fn elements(&self, id: Option<NodeId>) -> Result<Vec<NodeId>, Decline> {
        if !self.truthy(id) {
            return Ok(Vec::new());
        }
        let id = id.expect("a truthy value is present");
        match self.doc.node(id) {
            Node::Array(_) => Ok(self.doc.elements(id).collect()),
            _ => Err(Decline),
        }
    }

    /// `str(value or "")` style: a truthy string, or "" for a falsy value.
    fn truthy_text(&self, id: Option<NodeId>) -> Result<Text<'a>, Decline> {
        if !self.truthy(id) {
            return Ok(Text::of_static(""));
        }
        self.text(id).ok_or(Decline)
    }

    /// Whether `_URL` (`^[A-Za-z][A-Za-z0-9+.-]*://\S+$`) matches `text`.
    pub fn looks_like_url(&self, text: &[u8]) -> Result<bool, Decline> {
        let Some(&first) = text.first() else { return Ok(false) };
        if !first.is_ascii_alphabetic() {
            return Ok(false);
        }
        let scheme = 1 + text[1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
            .count();
        let Some(mut rest) = text[scheme..].strip_prefix(b"://") else { return Ok(false) };
        // `$` also matches before a final newline.
        if let Some(head) = rest.strip_suffix(b"\n") {
            rest = head;
        }
        let Ok(rest) = std::str::from_utf8(rest) else { return Err(Decline) };
        Ok(!rest.is_empty() && !rest.chars().any(|c| self.tables.spaces.contains(&c)))
    }

    // ------------------------------------------------------------------ server records

    pub fn adapt(
        &self,
        adapter: Adapter,
        id: NodeId,
        channel_type: &mut dyn FnMut(&[u8]) -> ChannelType,
    ) -> Result<Adapted<'a>, Vec<u8>> {
        Ok(match adapter {
            Adapter::Plain => Ok(Val::Node(id)),
            Adapter::Message => self.message(id),
            Adapter::Conversation => return self.conversation(id, channel_type),
            Adapter::Contact => self.contact(id),
            Adapter::Channel => self.channel(id),
            Adapter::Bot => self.bot(id),
            Adapter::KnowledgeBase => self.knowledge_base(id),
            Adapter::KbItem => self.kb_item(id),
            Adapter::Flow => self.flow(id),
        })
    }

    /// `adapt_message`.
    pub fn message(&self, id: NodeId) -> Adapted<'a> {
        let m = Some(id);
        if !self.is_object(m) {
            return Ok(Val::Node(id));
        }
        let [id_, conversation_id, kind_node, raw, attachments, sender, status, external_id, sender_id, delivered_at, read_at, error_message, metadata, created_at, updated_at, edited_at] =
            self.pick(
                m,
                [
                    "id",
                    "conversation_id",
                    "content_type",
                    "content",
                    "attachments",
                    "sender_type",
                    "status",
                    "external_id",
                    "sender_id",
                    "delivered_at",
                    "read_at",
                    "error_message",
                    "metadata",
                    "created_at",
                    "updated_at",
                    "edited_at",
                ],
            );
        let kind = if self.truthy(kind_node) {
            self.text(kind_node).ok_or(Decline)?
        } else {
            Text::of_static("text")
        };
        let text = self.text(raw).unwrap_or_else(|| Text::of_static(""));
        let first = attachments
            .filter(|&a| matches!(self.doc.node(a), Node::Array(c) if c.len > 0))
            .and_then(|a| self.doc.elements(a).next())
            .filter(|&f| self.is_object(Some(f)));
        let attached = self.truthy_text(self.get(first, "url"))?;
        let content = if self.tables.media_content_types.iter().any(|k| same_bytes(k, &kind.bytes))
        {
            // A sent message holds its URL as content; a received one its caption (the URL
            // is in an attachment, which only GET /messages/{id} loads).
            let caption = if !attached.is_empty() || !self.looks_like_url(&text.bytes)? {
                text.clone()
            } else {
                Text::of_static("")
            };
            let url = if !attached.is_empty() {
                attached
            } else if !caption.is_empty() {
                Text::of_static("")
            } else {
                text
            };
            let mut media = Obj::new(vec![
                ("url", Val::Text(url.clone())),
                (
                    "mime_type",
                    Val::MediaMime(Box::new(MediaMime {
                        url,
                        kind: kind.clone(),
                        attachment: first,
                    })),
                ),
            ]);
            if first.is_some() {
                let [filename, size, thumbnail] =
                    self.pick(first, ["filename", "size_bytes", "thumbnail_url"]);
                media.set("filename", Self::val(filename));
                media.set("size", Self::val(size));
                media.set("thumbnail_url", Self::val(thumbnail));
            }
            if !caption.is_empty() {
                media.set("caption", Val::Text(caption));
            }
            Obj::new(vec![("media", Val::Obj(media))])
        } else {
            Obj::new(vec![("text", Val::Text(text))])
        };
        let inbound = self.text(sender).is_some_and(|s| &*s.bytes == b"contact");
        let t = self.tables;
        Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(id_)),
            ("conversation_id", Self::val(conversation_id)),
            ("direction", Val::Text(Text::of_static(if inbound { "inbound" } else { "outbound" }))),
            ("content_type", Val::Text(t.content_type.apply(kind))),
            ("content", Val::Obj(content)),
            ("status", Self::val(status)),
            ("external_id", Self::val(external_id)),
            ("sender_id", Self::val(sender_id)),
            ("sender_type", self.fit(&t.sender_type, sender)?),
            ("delivered_at", Self::val(delivered_at)),
            ("read_at", Self::val(read_at)),
            ("failed_reason", Self::val(error_message)),
            ("metadata", Self::val(metadata)),
            ("created_at", Self::val(created_at)),
            ("updated_at", self.or(&[updated_at, edited_at, created_at])),
        ])))
    }

    /// `adapt_conversation(conversation, channel_types)`; `Err(channel id)` when the channel
    /// types do not know the conversation's channel yet.
    pub fn conversation(
        &self,
        id: NodeId,
        channel_type: &mut dyn FnMut(&[u8]) -> ChannelType,
    ) -> Result<Adapted<'a>, Vec<u8>> {
        let c = Some(id);
        if !self.is_object(c) {
            return Ok(Ok(Val::Node(id)));
        }
        let [id_, tenant_id, channel_id, contact_id, status, assigned, last_message_at, unread, metadata, tags, created_at, updated_at] =
            self.pick(
                c,
                [
                    "id",
                    "tenant_id",
                    "channel_id",
                    "contact_id",
                    "status",
                    "assigned_user_id",
                    "last_message_at",
                    "unread_count",
                    "metadata",
                    "tags",
                    "created_at",
                    "updated_at",
                ],
            );
        // `channel_types.get(str(channel_id), UNKNOWN_CHANNEL_TYPE)`, after the channels of
        // every truthy `str(channel_id)` were looked up.
        let key: &[u8] = match channel_id.map(|id| self.doc.node(id)) {
            None | Some(Node::Null) => b"None",
            Some(Node::Str(s)) => self.doc.str_bytes(s),
            Some(_) => return Ok(Err(Decline)),
        };
        let kind = match channel_type(key) {
            ChannelType::Known(kind) => Text::owned(kind),
            ChannelType::Unknown if self.truthy(channel_id) => return Err(key.to_vec()),
            ChannelType::Unknown => Text::owned(self.tables.unknown_channel_type.to_vec()),
            ChannelType::Odd => return Ok(Err(Decline)),
        };
        let status = match self.fit(&self.tables.conversation_status, status) {
            Ok(status) => status,
            Err(decline) => return Ok(Err(decline)),
        };
        Ok(Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(id_)),
            ("tenant_id", Self::val(tenant_id)),
            ("channel_id", Self::val(channel_id)),
            ("channel_type", Val::Text(kind)),
            ("contact_id", Self::val(contact_id)),
            ("status", status),
            ("assigned_to", Self::val(assigned)),
            ("last_message_at", Self::val(last_message_at)),
            ("unread_count", self.or_else(unread, Val::Int(0))),
            ("metadata", Self::val(metadata)),
            ("tags", Self::val(tags)),
            ("created_at", Self::val(created_at)),
            ("updated_at", Self::val(updated_at)),
        ]))))
    }

    /// `adapt_contact`.
    pub fn contact(&self, id: NodeId) -> Adapted<'a> {
        let c = Some(id);
        if !self.is_object(c) {
            return Ok(Val::Node(id));
        }
        let identities = match self.or(&[self.get(c, "identities"), self.get(c, "identifiers")]) {
            Val::Node(list) if self.truthy(Some(list)) => self.elements(Some(list))?,
            _ => Vec::new(),
        };
        let mut identifiers = Vec::new();
        for ident in identities.into_iter().map(Some).filter(|&i| self.is_object(i)) {
            identifiers.push(Val::Obj(Obj::new(vec![
                (
                    "channel_type",
                    self.fit(&self.tables.channel_type, self.get(ident, "channel_type"))?,
                ),
                (
                    "channel_id",
                    self.or_else(self.get(ident, "channel_id"), Val::Text(Text::of_static(""))),
                ),
                (
                    "identifier",
                    self.or_else(self.get(ident, "identifier"), Val::Text(Text::of_static(""))),
                ),
                ("display_name", Self::val(self.get(ident, "display_name"))),
                ("metadata", Self::val(self.get(ident, "metadata"))),
            ])));
        }
        Ok(Val::Obj(Obj::spread(
            id,
            vec![
                ("name", self.or_else(self.get(c, "name"), Val::Text(Text::of_static("")))),
                ("identifiers", Val::List(identifiers)),
                (
                    "conversation_count",
                    self.or_else(self.get(c, "conversation_count"), Val::Int(0)),
                ),
            ],
        )))
    }

    /// `adapt_channel`.
    pub fn channel(&self, id: NodeId) -> Adapted<'a> {
        let c = Some(id);
        if !self.is_object(c) {
            return Ok(Val::Node(id));
        }
        // `_CHANNEL_STATUS.get(str(connection_status), "inactive")`: only a string can
        // stringify to one of its keys.
        let connection = self.text(self.get(c, "connection_status"));
        let status = connection
            .and_then(|s| self.tables.channel_status.iter().find(|(k, _)| same_bytes(k, &s.bytes)))
            .map_or_else(|| Text::of_static("inactive"), |(_, v)| Text::owned(v.to_vec()));
        Ok(Val::Obj(Obj::spread(
            id,
            vec![
                ("type", self.fit(&self.tables.channel_type, self.get(c, "type"))?),
                ("status", Val::Text(status)),
                ("config", self.or_else(self.get(c, "config"), Val::Obj(Obj::default()))),
            ],
        )))
    }

    /// `_day`: a weekday's name as its number (Sunday is 0); anything else as it is.
    fn day(&self, id: Option<NodeId>) -> Adapted<'a> {
        let Some(text) = self.text(id) else { return Ok(Self::val(id)) };
        if !text.ascii {
            return Err(Decline); // Python's Unicode strip() and lower()
        }
        let spaces = &self.tables.spaces;
        let stripped = {
            let bytes = &*text.bytes;
            let is_space = |b: &u8| spaces.contains(&char::from(*b));
            let start = bytes.iter().position(|b| !is_space(b)).unwrap_or(bytes.len());
            let end = bytes.iter().rposition(|b| !is_space(b)).map_or(start, |i| i + 1);
            bytes[start..end].to_ascii_lowercase()
        };
        let key = &stripped[..stripped.len().min(9)];
        Ok(match self.tables.weekdays.iter().find(|(name, _)| **name == *key) {
            Some((_, number)) => Val::Int(*number),
            None => Self::val(id),
        })
    }

    /// `adapt_bot`.
    pub fn bot(&self, id: NodeId) -> Adapted<'a> {
        let b = Some(id);
        if !self.is_object(b) {
            return Ok(Val::Node(id));
        }
        let config = self.get(b, "config").filter(|&c| self.is_object(Some(c)));
        let kb_id = self.get(config, "knowledge_base_id");
        let or_none = |key: &str| self.or_else(self.get(config, key), Val::None);
        let mut sdk_config = Obj::new(vec![
            ("welcome_message", or_none("welcome_message")),
            ("fallback_message", or_none("fallback_message")),
            (
                "ai_config",
                Val::Obj(Obj::new(vec![
                    ("model", self.or_else(self.get(b, "model"), Val::Text(Text::of_static("")))),
                    ("temperature", Self::val(self.get(config, "temperature"))),
                    ("max_tokens", Self::val(self.get(config, "max_tokens"))),
                    ("system_prompt", or_none("system_prompt")),
                    ("use_knowledge_base", Val::Bool(self.truthy(kb_id))),
                ])),
            ),
        ]);
        let hours = self.get(config, "working_hours");
        if self.is_object(hours) {
            let mut schedule = Vec::new();
            for slot in self.elements(self.get(hours, "schedule"))?.into_iter().map(Some) {
                if !self.is_object(slot) {
                    continue;
                }
                schedule.push(Val::Obj(Obj::new(vec![
                    ("day", self.day(self.get(slot, "day"))?),
                    ("enabled", Val::Bool(true)),
                    ("start_time", Self::val(self.get(slot, "start_time"))),
                    ("end_time", Self::val(self.get(slot, "end_time"))),
                ])));
            }
            sdk_config.set(
                "operating_hours",
                Val::Obj(Obj::new(vec![
                    ("enabled", Val::Bool(self.truthy(self.get(hours, "enabled")))),
                    (
                        "timezone",
                        self.or_else(
                            self.get(hours, "timezone"),
                            Val::Text(Text::of_static("UTC")),
                        ),
                    ),
                    ("schedule", Val::List(schedule)),
                ])),
            );
        }
        let t = self.tables;
        Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(self.get(b, "id"))),
            ("tenant_id", Self::val(self.get(b, "tenant_id"))),
            ("name", Self::val(self.get(b, "name"))),
            ("description", Self::val(self.get(b, "description"))),
            ("status", self.fit(&t.bot_status, self.get(b, "status"))?),
            ("type", self.fit(&t.bot_type, self.get(b, "type"))?),
            ("config", Val::Obj(sdk_config)),
            (
                "channel_ids",
                match self.or(&[self.get(b, "channels"), self.get(b, "channel_ids")]) {
                    value if self.val_truthy(&value) => value,
                    _ => Val::List(Vec::new()),
                },
            ),
            (
                "knowledge_base_ids",
                if self.truthy(kb_id) { Val::List(vec![Self::val(kb_id)]) } else { Val::None },
            ),
            ("created_at", Self::val(self.get(b, "created_at"))),
            ("updated_at", Self::val(self.get(b, "updated_at"))),
        ])))
    }

    /// `adapt_knowledge_base`.
    pub fn knowledge_base(&self, id: NodeId) -> Adapted<'a> {
        let k = Some(id);
        if !self.is_object(k) {
            return Ok(Val::Node(id));
        }
        let config = self.get(k, "config").filter(|&c| self.is_object(Some(c)));
        // `int(kb.get("item_count") or 0)`: an integer, or a falsy value (int() of anything
        // else rounds, parses or raises).
        let count_node = self.get(k, "item_count");
        let count = if self.truthy(count_node) {
            match self.doc.node(count_node.expect("truthy")) {
                Node::Int(i) => i,
                _ => return Err(Decline),
            }
        } else {
            0
        };
        let syncing = self.text(self.get(k, "status")).is_some_and(|s| &*s.bytes == b"syncing");
        let status = if syncing {
            "processing"
        } else if count != 0 {
            "active"
        } else {
            "empty"
        };
        Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(self.get(k, "id"))),
            ("tenant_id", Self::val(self.get(k, "tenant_id"))),
            ("name", Self::val(self.get(k, "name"))),
            ("description", Self::val(self.get(k, "description"))),
            ("status", Val::Text(Text::of_static(status))),
            (
                "embedding_model",
                self.or_else(self.get(config, "embedding_model"), Val::Text(Text::of_static(""))),
            ),
            ("chunk_size", self.or_else(self.get(config, "chunk_size"), Val::Int(0))),
            ("chunk_overlap", self.or_else(self.get(config, "chunk_overlap"), Val::Int(0))),
            ("document_count", Val::Int(count)),
            ("total_chunks", Val::Int(count)),
            ("created_at", Self::val(self.get(k, "created_at"))),
            ("updated_at", Self::val(self.get(k, "updated_at"))),
        ])))
    }

    /// `adapt_kb_item`.
    pub fn kb_item(&self, id: NodeId) -> Adapted<'a> {
        let i = Some(id);
        if !self.is_object(i) {
            return Ok(Val::Node(id));
        }
        // `len(str(answer or "").encode())`: the UTF-8 length of a string.
        let answer = self.truthy_text(self.get(i, "answer"))?;
        let size = i64::try_from(answer.bytes.len()).map_err(|_| Decline)?;
        Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(self.get(i, "id"))),
            ("knowledge_base_id", Self::val(self.get(i, "knowledge_base_id"))),
            ("name", self.or_else(self.get(i, "question"), Val::Text(Text::of_static("")))),
            ("type", Val::Text(Text::of_static("txt"))),
            ("status", Val::Text(Text::of_static("completed"))),
            ("size", Val::Int(size)),
            ("chunk_count", Val::Int(1)),
            ("metadata", Self::val(self.get(i, "metadata"))),
            ("created_at", Self::val(self.get(i, "created_at"))),
            ("updated_at", Self::val(self.get(i, "updated_at"))),
        ])))
    }

    /// `adapt_flow`.
    pub fn flow(&self, id: NodeId) -> Adapted<'a> {
        let f = Some(id);
        if !self.is_object(f) {
            return Ok(Val::Node(id));
        }
        let t = self.tables;
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for (order, node) in self.elements(self.get(f, "nodes"))?.into_iter().enumerate() {
            let node = Some(node);
            if !self.is_object(node) {
                continue;
            }
            let node_id = self.get(node, "id");
            let kind = self.fit(&t.node_type, self.get(node, "type"))?;
            let known = matches!(&kind, Val::Text(text) if t.node_type.contains(&text.bytes));
            let mut data = Obj::new(vec![
                ("label", Self::val(node_id)),
                ("message_content", Self::val(self.get(node, "content"))),
            ]);
            let replies = self.get(node, "quick_replies");
            if self.truthy(replies) {
                data.set("buttons", Self::val(replies));
            }
            let order = i64::try_from(order).map_err(|_| Decline)?;
            nodes.push(Val::Obj(Obj::new(vec![
                ("id", Self::val(node_id)),
                ("type", if known { kind } else { Val::Text(Text::of_static("action")) }),
                (
                    "position",
                    Val::Obj(Obj::new(vec![
                        ("x", Val::Int(0)),
                        ("y", Val::Int(order.checked_mul(100).ok_or(Decline)?)),
                    ])),
                ),
                ("data", Val::Obj(data)),
            ])));
            let steps = self.elements(self.get(node, "transitions"))?;
            for (number, step) in steps.into_iter().enumerate() {
                let step = Some(step);
                if !self.is_object(step) {
                    continue;
                }
                let step_id = self.get(step, "id");
                let edge_id = if self.truthy(step_id) {
                    Self::val(step_id)
                } else {
                    // f"{node_id}_t{number}": only a string (or None) spells itself simply.
                    let mut text = match node_id.map(|n| self.doc.node(n)) {
                        None | Some(Node::Null) => b"None".to_vec(),
                        Some(Node::Str(s)) => self.doc.str_bytes(s).to_vec(),
                        Some(_) => return Err(Decline),
                    };
                    text.extend_from_slice(format!("_t{number}").as_bytes());
                    Val::Text(Text::owned(text))
                };
                edges.push(Val::Obj(Obj::new(vec![
                    ("id", edge_id),
                    ("source", Self::val(node_id)),
                    ("target", Self::val(self.get(step, "to_node_id"))),
                    ("label", Self::val(self.get(step, "value"))),
                    ("condition", Self::val(self.get(step, "condition"))),
                ])));
            }
        }
        let active = self.truthy(self.get(f, "is_active"));
        Ok(Val::Obj(Obj::new(vec![
            ("id", Self::val(self.get(f, "id"))),
            ("tenant_id", Self::val(self.get(f, "tenant_id"))),
            ("name", Self::val(self.get(f, "name"))),
            ("description", Self::val(self.get(f, "description"))),
            ("status", Val::Text(Text::of_static(if active { "active" } else { "inactive" }))),
            ("version", self.or_else(self.get(f, "version"), Val::Int(1))),
            ("nodes", Val::List(nodes)),
            ("edges", Val::List(edges)),
            ("created_at", Self::val(self.get(f, "created_at"))),
            ("updated_at", Self::val(self.get(f, "updated_at"))),
        ])))
    }

    // ------------------------------------------------------------------ realtime payloads

    /// The fields of a realtime event; `payload` is `None` for an absent or `null` payload
    /// (an empty dict).
    pub fn event(&self, recipe: Recipe, frame_type: &[u8], payload: Option<NodeId>) -> Adapted<'a> {
        match recipe {
            Recipe::Payload => Ok(payload.map_or_else(|| Val::Obj(Obj::default()), Val::Node)),
            Recipe::Message => self.message_event(payload),
            Recipe::Status => self.status_event(payload),
            Recipe::Conversation => self.conversation_event(frame_type, payload),
        }
    }

    /// `_message`: a message in the server's shape (its content not an object) adapted; any
    /// other value as it is. Also says whether the value is a dict.
    fn realtime_message(&self, id: Option<NodeId>) -> Result<(Val<'a>, bool), Decline> {
        if !self.is_object(id) {
            return Ok((Self::val(id), false));
        }
        let id = id.expect("an object");
        if self.is_object(self.get(Some(id), "content")) {
            return Ok((Val::Node(id), true));
        }
        Ok((self.message(id)?, true))
    }

    fn source_of<'o>(val: &'o Val<'a>) -> Source<'o, 'a> {
        match val {
            Val::Obj(obj) => Source::Obj(obj),
            Val::Node(id) => Source::Node(Some(*id)),
            _ => Source::Node(None),
        }
    }

    /// `_message_event`.
    fn message_event(&self, payload: Option<NodeId>) -> Adapted<'a> {
        let (message, is_dict) = self.realtime_message(self.get(payload, "message"))?;
        let mut conversation_id =
            self.first(&Source::Node(payload), &["conversation_id", "conversationId"]);
        if matches!(conversation_id, Val::None) && is_dict {
            conversation_id =
                self.first(&Self::source_of(&message), &["conversation_id", "conversationId"]);
        }
        Ok(Val::Obj(Obj::new(vec![("conversation_id", conversation_id), ("message", message)])))
    }

    /// `_status_event`.
    fn status_event(&self, payload: Option<NodeId>) -> Adapted<'a> {
        let mut data = match payload {
            Some(id) => Obj::spread(id, Vec::new()),
            None => Obj::default(),
        };
        let message_node = self.get(payload, "message");
        let mut message = None;
        if message_node.is_some() {
            let (value, is_dict) = self.realtime_message(message_node)?;
            if is_dict {
                message = Some(value.clone());
            }
            data.set("message", value);
        }
        if let Some(message) = message {
            let source = Self::source_of(&message);
            for (field, camel, key) in [
                ("message_id", "messageId", "id"),
                ("conversation_id", "conversationId", "conversation_id"),
                ("status", "status", "status"),
            ] {
                let current = self.first(&Source::Obj(&data), &[field, camel]);
                if matches!(current, Val::None) {
                    let value = self.first(&source, &[key, camel]);
                    data.set(field, value);
                }
            }
        }
        Ok(Val::Obj(data))
    }

    /// `_conversation_event`.
    fn conversation_event(&self, frame_type: &[u8], payload: Option<NodeId>) -> Adapted<'a> {
        let p = Source::Node(payload);
        let nested = self.get(payload, "conversation");
        let source = if self.is_object(nested) { nested } else { payload };
        let s = Source::Node(source);
        let mut status = self.first(&p, &["status"]);
        if matches!(status, Val::None) {
            status = self.first(&s, &["status"]);
        }
        if let Val::Node(id) = status {
            if matches!(self.doc.node(id), Node::Str(_)) {
                status = self.fit(&self.tables.conversation_status, Some(id))?;
            }
        }
        let channel_type = self.first(&s, &["channel_type", "channelType"]);
        let conversation = match (channel_type, source) {
            (Val::None, _) | (_, None) => Val::None,
            (_, Some(source)) => Val::ModelOrNone(source),
        };
        let mut metadata = self.first(&p, &["metadata"]);
        if matches!(metadata, Val::None) {
            metadata = self.first(&s, &["metadata"]);
        }
        let metadata = match metadata {
            Val::Node(id) if self.is_object(Some(id)) => metadata,
            _ => Val::None,
        };
        let or = |a: Val<'a>, b: Val<'a>| if self.val_truthy(&a) { a } else { b };
        let assigned = ["assigned_to", "assignedTo", "assigned_user_id"];
        Ok(Val::Obj(Obj::new(vec![
            (
                "conversation_id",
                or(self.first(&p, &["conversation_id", "conversationId"]), self.first(&s, &["id"])),
            ),
            ("created", Val::Bool(frame_type == b"conversation_created")),
            ("status", status),
            ("assigned_to", or(self.first(&p, &assigned), self.first(&s, &assigned))),
            ("metadata", metadata),
            ("conversation", conversation),
        ])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Tape;

    fn fit(allowed: &[&str], nearest: &[(&str, &str)]) -> Fit {
        Fit {
            allowed: allowed.iter().map(|v| v.as_bytes().into()).collect(),
            nearest: nearest
                .iter()
                .map(|(a, b)| (a.as_bytes().into(), b.as_bytes().into()))
                .collect(),
        }
    }

    fn tables() -> Tables {
        Tables {
            content_type: fit(
                &["text", "image", "video", "audio", "document"],
                &[("template", "text")],
            ),
            sender_type: fit(&["contact", "agent", "bot", "system"], &[("user", "agent")]),
            conversation_status: fit(&["open", "pending", "resolved"], &[("closed", "resolved")]),
            channel_type: fit(&["whatsapp", "webchat"], &[("whatsapp_official", "whatsapp")]),
            bot_status: fit(&["active", "draft"], &[("training", "draft")]),
            bot_type: fit(&["ai", "flow"], &[("rule_based", "flow")]),
            node_type: fit(&["message", "input", "action"], &[("question", "input")]),
            media_content_types: ["image", "video", "audio", "document"]
                .iter()
                .map(|v| v.as_bytes().into())
                .collect(),
            channel_status: vec![(b"connected".as_slice().into(), b"active".as_slice().into())],
            weekdays: vec![(b"sunday".as_slice().into(), 0), (b"monday".as_slice().into(), 1)],
            unknown_channel_type: b"webchat".as_slice().into(),
            spaces: " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\u{a0}\u{3000}".chars().collect(),
        }
    }

    /// The adapted value rendered as Python-like text, nodes as their compact JSON.
    fn render(doc: &Doc<'_>, val: &Val<'_>, out: &mut String) {
        match val {
            Val::Node(id) => {
                let mut text = Vec::new();
                doc.write_compact(*id, &mut text);
                out.push_str(&String::from_utf8(text).unwrap());
            }
            Val::None => out.push_str("None"),
            Val::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Text(t) => out.push_str(&format!("{:?}", String::from_utf8_lossy(&t.bytes))),
            Val::Obj(obj) => {
                out.push('{');
                if let Some(base) = obj.base {
                    out.push_str("**");
                    render(doc, &Val::Node(base), out);
                    out.push_str(", ");
                }
                for (i, (key, value)) in obj.entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(key);
                    out.push_str(": ");
                    render(doc, value, out);
                }
                out.push('}');
            }
            Val::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    render(doc, item, out);
                }
                out.push(']');
            }
            Val::MediaMime(mime) => {
                let MediaMime { url, kind, attachment } = &**mime;
                out.push_str(&format!(
                    "mime({:?}, {:?}, {})",
                    String::from_utf8_lossy(&url.bytes),
                    String::from_utf8_lossy(&kind.bytes),
                    attachment.is_some()
                ));
            }
            Val::ModelOrNone(id) => {
                out.push_str("model_or_none(");
                render(doc, &Val::Node(*id), out);
                out.push(')');
            }
        }
    }

    fn adapt(adapter: Adapter, json: &str) -> String {
        let mut tape = Tape::new();
        let doc = tape.parse(json.as_bytes()).unwrap();
        let t = tables();
        let rules = Rules { doc: &doc, tables: &t };
        let mut known = |id: &[u8]| match id {
            b"ch_1" => ChannelType::Known(b"whatsapp".to_vec()),
            b"ch_odd" => ChannelType::Odd,
            _ => ChannelType::Unknown,
        };
        match rules.adapt(adapter, Doc::ROOT, &mut known) {
            Err(missing) => format!("missing {}", String::from_utf8_lossy(&missing)),
            Ok(Err(Decline)) => "decline".to_owned(),
            Ok(Ok(val)) => {
                let mut out = String::new();
                render(&doc, &val, &mut out);
                out
            }
        }
    }

    fn event(recipe: Recipe, frame_type: &str, json: &str) -> String {
        let mut tape = Tape::new();
        let doc = tape.parse(json.as_bytes()).unwrap();
        let t = tables();
        let rules = Rules { doc: &doc, tables: &t };
        let payload = matches!(doc.node(Doc::ROOT), Node::Object(_)).then_some(Doc::ROOT);
        match rules.event(recipe, frame_type.as_bytes(), payload) {
            Err(Decline) => "decline".to_owned(),
            Ok(val) => {
                let mut out = String::new();
                render(&doc, &val, &mut out);
                out
            }
        }
    }

    #[test]
    fn text_message() {
        assert_eq!(
            adapt(
                Adapter::Message,
                r#"{"id":"m","conversation_id":"c","sender_type":"contact","content":"hi","status":"sent","created_at":"t0","edited_at":"t1"}"#
            ),
            concat!(
                r#"{id: "m", conversation_id: "c", direction: "inbound", content_type: "text", "#,
                r#"content: {text: "hi"}, status: "sent", external_id: None, sender_id: None, "#,
                r#"sender_type: "contact", delivered_at: None, read_at: None, failed_reason: None, "#,
                r#"metadata: None, created_at: "t0", updated_at: "t1"}"#
            )
        );
        // Server words the SDK lacks are fitted; non-string content is no text.
        let adapted = adapt(
            Adapter::Message,
            r#"{"content_type":"template","sender_type":"user","content":5,"updated_at":""}"#,
        );
        assert!(
            adapted.contains(r#"direction: "outbound", content_type: "text", content: {text: ""}"#)
        );
        assert!(adapted.contains(r#"sender_type: "agent""#));
        assert!(adapted.ends_with(r#"updated_at: None}"#));
        assert_eq!(adapt(Adapter::Message, "[1]"), "[1]");
        assert_eq!(adapt(Adapter::Message, r#"{"content_type":5}"#), "decline");
        assert_eq!(adapt(Adapter::Message, r#"{"sender_type":[1]}"#), "decline");
    }

    #[test]
    fn media_message() {
        // A sent media message: the URL is the content.
        let sent =
            adapt(Adapter::Message, r#"{"content_type":"image","content":"https://x/a.png"}"#);
        assert!(sent.contains(
            r#"content: {media: {url: "https://x/a.png", mime_type: mime("https://x/a.png", "image", false)}}"#
        ));
        // A received one: the caption is the content, the URL an attachment's.
        let received = adapt(
            Adapter::Message,
            r#"{"content_type":"image","content":"look","attachments":[{"url":"u","filename":"f","size_bytes":3}]}"#,
        );
        assert!(received.contains(concat!(
            r#"content: {media: {url: "u", mime_type: mime("u", "image", true), filename: "f", "#,
            r#"size: 3, thumbnail_url: None, caption: "look"}}"#
        )));
        // Listed without its attachment: a caption and no URL.
        let listed = adapt(Adapter::Message, r#"{"content_type":"video","content":"a clip"}"#);
        assert!(listed.contains(
            r#"media: {url: "", mime_type: mime("", "video", false), caption: "a clip"}"#
        ));
        assert_eq!(
            adapt(Adapter::Message, r#"{"content_type":"image","attachments":[{"url":5}]}"#),
            "decline"
        );
    }

    #[test]
    fn url_rule() {
        let t = tables();
        let mut tape = Tape::new();
        let doc = tape.parse(b"0").unwrap();
        let rules = Rules { doc: &doc, tables: &t };
        for (text, expected) in [
            ("https://x/a", true),
            ("s3://b/k\n", true),
            ("a+b.c-d://x", true),
            ("1http://x", false),
            ("http:/x", false),
            ("http://", false),
            ("http://\n", false),
            ("http://a b", false),
            ("http://a\n\n", false),
            ("http://a\u{a0}", false),
            ("http://a\u{e9}", true),
            ("h\u{e9}://a", false),
            ("", false),
        ] {
            assert_eq!(rules.looks_like_url(text.as_bytes()), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn conversation_channel_types() {
        let adapted = adapt(
            Adapter::Conversation,
            r#"{"id":"c","channel_id":"ch_1","status":"closed","assigned_user_id":"u","unread_count":0}"#,
        );
        assert!(adapted.contains(r#"channel_id: "ch_1", channel_type: "whatsapp""#));
        assert!(adapted.contains(r#"status: "resolved", assigned_to: "u""#));
        assert!(adapted.contains("unread_count: 0,"));
        assert_eq!(adapt(Adapter::Conversation, r#"{"channel_id":"ch_2"}"#), "missing ch_2");
        // Falsy ids are not looked up: they get the unknown type at once.
        assert!(adapt(Adapter::Conversation, r#"{"channel_id":""}"#)
            .contains(r#"channel_type: "webchat""#));
        assert!(adapt(Adapter::Conversation, r#"{}"#).contains(r#"channel_type: "webchat""#));
        assert_eq!(adapt(Adapter::Conversation, r#"{"channel_id":5}"#), "decline");
        assert_eq!(adapt(Adapter::Conversation, r#"{"channel_id":"ch_odd"}"#), "decline");
    }

    #[test]
    fn contact_and_channel() {
        assert_eq!(
            adapt(
                Adapter::Contact,
                r#"{"id":"k","name":null,"identities":[{"channel_type":"whatsapp_official","identifier":"1"},7]}"#
            ),
            concat!(
                r#"{**{"id":"k","name":null,"identities":[{"channel_type":"whatsapp_official","identifier":"1"},7]}, "#,
                r#"name: "", identifiers: [{channel_type: "whatsapp", channel_id: "", identifier: "1", "#,
                r#"display_name: None, metadata: None}], conversation_count: 0}"#
            )
        );
        assert_eq!(adapt(Adapter::Contact, r#"{"identities":{"a":1}}"#), "decline");
        assert!(adapt(Adapter::Contact, r#"{"identities":[],"identifiers":[]}"#)
            .contains("identifiers: []"));
        assert_eq!(
            adapt(Adapter::Channel, r#"{"type":"x","connection_status":"connected","config":{}}"#),
            r#"{**{"type":"x","connection_status":"connected","config":{}}, type: "x", status: "active", config: {}}"#
        );
        assert!(
            adapt(Adapter::Channel, r#"{"connection_status":5}"#).contains(r#"status: "inactive""#)
        );
    }

    #[test]
    fn bots_knowledge_and_flows() {
        let bot = adapt(
            Adapter::Bot,
            r#"{"status":"training","type":"rule_based","config":{"knowledge_base_id":"kb","working_hours":{"enabled":1,"schedule":[{"day":" Monday "},{"day":"Funday"},{"day":3}]}}}"#,
        );
        assert!(bot.contains(r#"status: "draft", type: "flow""#), "{bot}");
        assert!(bot.contains(r#"use_knowledge_base: True"#));
        assert!(bot
            .contains(r#"operating_hours: {enabled: True, timezone: "UTC", schedule: [{day: 1,"#));
        assert!(bot.contains(r#"{day: "Funday","#));
        assert!(bot.contains(r#"{day: 3,"#));
        assert!(bot.contains(r#"channel_ids: [], knowledge_base_ids: ["kb"]"#));
        assert_eq!(
            adapt(Adapter::Bot, r#"{"config":{"working_hours":{"schedule":[{"day":"Dí"}]}}}"#),
            "decline"
        );
        let kb = adapt(Adapter::KnowledgeBase, r#"{"item_count":2,"config":{"chunk_size":512}}"#);
        assert!(kb.contains(r#"status: "active", embedding_model: "", chunk_size: 512, chunk_overlap: 0, document_count: 2"#));
        assert!(adapt(Adapter::KnowledgeBase, r#"{"item_count":2,"status":"syncing"}"#)
            .contains(r#""processing""#));
        assert_eq!(adapt(Adapter::KnowledgeBase, r#"{"item_count":"2"}"#), "decline");
        assert!(adapt(Adapter::KbItem, r#"{"answer":"é"}"#).contains("size: 2"));
        let flow = adapt(
            Adapter::Flow,
            r#"{"is_active":true,"nodes":[5,{"id":"n","type":"question","quick_replies":["a"],"transitions":[{"to_node_id":"m"},{"id":"e"}]}]}"#,
        );
        assert!(flow.contains(r#"status: "active", version: 1"#), "{flow}");
        assert!(flow.contains(r#"{id: "n", type: "input", position: {x: 0, y: 100}, data: {label: "n", message_content: None, buttons: ["a"]}}"#));
        assert!(flow.contains(r#"edges: [{id: "n_t0", source: "n", target: "m""#));
        assert!(flow.contains(r#"{id: "e", source: "n", target: None"#));
        assert_eq!(adapt(Adapter::Flow, r#"{"nodes":{"a":1}}"#), "decline");
    }

    #[test]
    fn realtime_payloads() {
        assert_eq!(event(Recipe::Payload, "typing", "[]"), "{}");
        assert_eq!(
            event(
                Recipe::Message,
                "new_message",
                r#"{"message":{"id":"m","conversation_id":"c","content":"hi"}}"#
            )
            .split(", message:")
            .next()
            .unwrap(),
            r#"{conversation_id: "c""#
        );
        // The SDK's shape (content an object) passes as it is.
        assert_eq!(
            event(
                Recipe::Message,
                "message",
                r#"{"conversationId":"c","message":{"content":{"text":"x"}}}"#
            ),
            r#"{conversation_id: "c", message: {"content":{"text":"x"}}}"#
        );
        assert_eq!(
            event(
                Recipe::Status,
                "message_updated",
                r#"{"messageId":null,"message":{"content":{},"id":"m","status":"read"}}"#
            ),
            concat!(
                r#"{**{"messageId":null,"message":{"content":{},"id":"m","status":"read"}}, "#,
                r#"message: {"content":{},"id":"m","status":"read"}, message_id: "m", "#,
                r#"conversation_id: None, status: "read"}"#
            )
        );
        assert_eq!(
            event(
                Recipe::Conversation,
                "conversation_created",
                r#"{"id":"c","status":"closed","channel_type":"x","metadata":[1]}"#
            ),
            concat!(
                r#"{conversation_id: "c", created: True, status: "resolved", assigned_to: None, "#,
                r#"metadata: None, conversation: model_or_none({"id":"c","status":"closed","channel_type":"x","metadata":[1]})}"#
            )
        );
        assert_eq!(
            event(
                Recipe::Conversation,
                "conversation_updated",
                r#"{"conversation_id":"","conversation":{"id":"c","status":5}}"#
            ),
            r#"{conversation_id: "c", created: False, status: 5, assigned_to: None, metadata: None, conversation: None}"#
        );
    }
}
