//! Stored documents in the CRUD service's shape: the resource's own fields plus the system
//! fields `_id`, `createdAt`, `updatedAt`, `creatorId`, `updaterId` and `__STATE__`.

use jiff::Timestamp;
use serde_json::{Map, Value};

/// Fields Herald manages itself; clients cannot set them, and they are stripped from input.
pub const SYSTEM_FIELDS: [&str; 6] = ["_id", "createdAt", "updatedAt", "creatorId", "updaterId", "__STATE__"];

/// One stored document of a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The `_id`: 24 hex digits.
    pub id: String,
    /// The resource's own fields, already validated and normalized.
    pub body: Map<String, Value>,
    /// When the document was created.
    pub created_at: Timestamp,
    /// When the document last changed.
    pub updated_at: Timestamp,
    /// Who created it: an API key id or a user id.
    pub creator_id: String,
    /// Who last changed it.
    pub updater_id: String,
    /// Bumped on every change; updates compare it to detect a concurrent writer.
    pub revision: i64,
}

impl Document {
    /// A new document (revision 1) with `body`, created at `at` by `actor_id`.
    pub fn new(id: String, body: Map<String, Value>, at: Timestamp, actor_id: &str) -> Self {
        Self { id, body, created_at: at, updated_at: at, creator_id: actor_id.to_string(), updater_id: actor_id.to_string(), revision: 1 }
    }

    /// The document as clients see it: system fields and body together.
    pub fn to_json(&self) -> Value {
        let mut out = Map::with_capacity(self.body.len() + 6);
        out.insert("_id".into(), Value::String(self.id.clone()));
        out.extend(self.body.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.insert("creatorId".into(), Value::String(self.creator_id.clone()));
        out.insert("createdAt".into(), Value::String(format_timestamp(self.created_at)));
        out.insert("updaterId".into(), Value::String(self.updater_id.clone()));
        out.insert("updatedAt".into(), Value::String(format_timestamp(self.updated_at)));
        out.insert("__STATE__".into(), Value::String("PUBLIC".into()));
        Value::Object(out)
    }

    /// The document restricted to `fields` (top-level names or dotted paths); `_id` is always
    /// kept, as the CRUD service does.
    pub fn project(&self, fields: &[String]) -> Value {
        let Value::Object(full) = self.to_json() else { unreachable!("to_json returns an object") };
        let mut out = Map::new();
        out.insert("_id".into(), Value::String(self.id.clone()));
        for field in fields {
            let mut segments = field.split('.');
            let head = segments.next().unwrap_or_default();
            let rest: Vec<&str> = segments.collect();
            if let Some(value) = full.get(head).and_then(|top| rest.iter().try_fold(top, |value, segment| value.get(segment))) {
                insert_path(&mut out, head, &rest, value.clone());
            }
        }
        Value::Object(out)
    }
}

fn insert_path(out: &mut Map<String, Value>, head: &str, rest: &[&str], value: Value) {
    match rest.split_first() {
        None => {
            out.insert(head.to_string(), value);
        }
        Some((next, tail)) => {
            let entry = out.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, next, tail, value);
            }
        }
    }
}

/// Formats a timestamp the way the CRUD service does: UTC, milliseconds, `Z`.
///
/// Every document carries several timestamps, so this writes the digits itself: going through
/// jiff's `strftime` took about 2% of the CPU of an ingest burst. Years outside 0–9999 (never
/// produced by a clock) still go through `strftime`.
pub fn format_timestamp(ts: Timestamp) -> String {
    let at = jiff::tz::Offset::UTC.to_datetime(ts);
    let Ok(year) = u16::try_from(at.year()) else { return ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string() };
    if year > 9999 {
        return ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let fields: [(u32, usize, u8); 7] = [
        (u32::from(year), 4, b'-'),
        (at.month() as u32, 2, b'-'),
        (at.day() as u32, 2, b'T'),
        (at.hour() as u32, 2, b':'),
        (at.minute() as u32, 2, b':'),
        (at.second() as u32, 2, b'.'),
        (at.subsec_nanosecond() as u32 / 1_000_000, 3, b'Z'),
    ];
    let mut text = Vec::with_capacity(24);
    for (value, width, separator) in fields {
        for place in (0..width).rev() {
            text.push(b'0' + (value / 10u32.pow(place as u32) % 10) as u8);
        }
        text.push(separator);
    }
    String::from_utf8(text).expect("digits and separators are ASCII")
}

/// `ts` truncated to whole milliseconds, the precision documents are stored with.
pub fn to_millis(ts: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(ts.as_millisecond()).expect("a valid timestamp stays valid when truncated")
}

/// Serde support for timestamps written as [`format_timestamp`] does (and read from any
/// RFC 3339 form).
pub mod timestamp_format {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `ts` as `2024-05-01T09:00:00.000Z`.
    pub fn serialize<S: Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_timestamp(*ts))
    }

    /// Reads an RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for optional timestamps, in the same format as [`timestamp_format`].
pub mod optional_timestamp_format {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `ts` as `2024-05-01T09:00:00.000Z`, or null.
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => super::timestamp_format::serialize(ts, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an optional RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let text = Option::<std::borrow::Cow<str>>::deserialize(deserializer)?;
        text.map(|t| t.parse().map_err(serde::de::Error::custom)).transpose()
    }
}

/// A record (a validated resource, a notification) as a document body.
pub fn to_body<T: serde::Serialize>(record: &T) -> Map<String, Value> {
    match serde_json::to_value(record).expect("records serialize") {
        Value::Object(body) => body,
        _ => unreachable!("records are structs"),
    }
}

/// Removes the system fields from client input, which may echo a document it read.
pub fn strip_system_fields(body: &mut Map<String, Value>) {
    for field in SYSTEM_FIELDS {
        body.remove(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Document {
        let ts = Timestamp::from_millisecond(1_586_106_974_175).unwrap();
        Document {
            id: "5e8a125eb74dbf0011444ed3".into(),
            body: json!({"name": "x", "nested": {"a": 1, "b": 2}}).as_object().unwrap().clone(),
            created_at: ts,
            updated_at: ts,
            creator_id: "key1".into(),
            updater_id: "key1".into(),
            revision: 1,
        }
    }

    #[test]
    fn timestamps_are_formatted_as_strftime_does() {
        let instants = (0..2_000).map(|n| -62_135_596_800_000 + n * 157_768_902_017);
        for millis in instants.chain([0, 1_586_106_974_175, 253_402_207_199_999, -1]) {
            let ts = Timestamp::from_millisecond(millis).unwrap();
            assert_eq!(format_timestamp(ts), ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "{millis}");
        }
    }

    #[test]
    fn json_has_the_crud_system_fields() {
        let json = sample().to_json();
        assert_eq!(json["_id"], "5e8a125eb74dbf0011444ed3");
        assert_eq!(json["createdAt"], "2020-04-05T17:16:14.175Z");
        assert_eq!(json["__STATE__"], "PUBLIC");
        assert_eq!(json["name"], "x");
    }

    #[test]
    fn projection_keeps_id_and_named_paths() {
        let projected = sample().project(&["nested.b".into(), "missing".into(), "createdAt".into()]);
        assert_eq!(projected, json!({"_id": "5e8a125eb74dbf0011444ed3", "nested": {"b": 2}, "createdAt": "2020-04-05T17:16:14.175Z"}));
    }
}
