use serde::Serialize;
use serde_json::Value;

/// A value to bind to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bind {
    Null,
    Text(String),
    Int(i64),
    /// An integer or a NULL typed as one (PostgreSQL refuses a text NULL in an integer column).
    MaybeInt(Option<i64>),
    Float(f64),
    Json(Value),
    /// A JSON document already serialized (the writer serializes documents straight from their
    /// maps instead of cloning them into a [`Value`] first).
    JsonText(String),
    TextArray(Vec<String>),
}

impl From<&Value> for Bind {
    /// Scalars bind as their SQL type; anything else as JSON.
    fn from(value: &Value) -> Self {
        match value {
            Value::String(s) => Bind::Text(s.clone()),
            Value::Number(n) => n.as_i64().map(Bind::Int).unwrap_or_else(|| Bind::Float(n.as_f64().unwrap_or(0.0))),
            other => Bind::Json(other.clone()),
        }
    }
}

impl Bind {
    /// `value` serialized, as [`Bind::JsonText`].
    pub(crate) fn json_text(value: &impl Serialize) -> Self {
        Bind::JsonText(serde_json::to_string(value).expect("JSON values and maps always serialize"))
    }
}

/// SQL text with its binds, in placeholder order, written twice: with numbered placeholders
/// (`$1`) for PostgreSQL, and with anonymous ones (`?`) for SQLite, which binds a numbered
/// placeholder by looking its name up in a list — quadratic in the number of binds, and the
/// writer's multi-row statements carry thousands.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) positional: String,
    pub(crate) binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self { text: text.to_string(), positional: text.to_string(), binds: Vec::new() }
    }

    /// Appends `(…), (…)`: one parenthesised row of placeholders per row of binds.
    pub(crate) fn push_rows(&mut self, rows: impl IntoIterator<Item = Vec<Bind>>) -> &mut Self {
        for (r, row) in rows.into_iter().enumerate() {
            self.push(if r == 0 { "(" } else { ", (" });
            for (i, value) in row.into_iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.bind(value);
            }
            self.push(")");
        }
        self
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self.positional.push_str(text);
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self.positional.push('?');
        self
    }
}

/// Splits `rows` into chunks whose lengths are powers of two, largest first and at most `max`
/// (itself a power of two). Multi-row statements then come in a few shapes only, each prepared
/// once per connection and reused from the driver's statement cache, instead of a new shape
/// (and a new preparation) for every batch size.
pub(crate) fn statement_chunks<T>(mut rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    chunk_lengths(rows.len(), max).map(move |size| {
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        chunk
    })
}

/// One statement per chunk of `rows` (chunked as [`statement_chunks`] does), each built by
/// `build` from its rows.
pub(crate) fn chunked_statements<T>(rows: Vec<T>, max: usize, mut build: impl FnMut(&mut dyn Iterator<Item = T>) -> Sql) -> Vec<Sql> {
    let mut rows = rows.into_iter();
    chunk_lengths(rows.len(), max).map(|length| build(&mut rows.by_ref().take(length))).collect()
}

/// The lengths of the chunks [`statement_chunks`] splits `rows` rows into.
fn chunk_lengths(mut rows: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    std::iter::from_fn(move || {
        if rows == 0 {
            return None;
        }
        let size = max.min(1 << rows.ilog2());
        rows -= size;
        Some(size)
    })
}

#[cfg(test)]
mod tests {
    use super::statement_chunks;

    #[test]
    fn chunks_are_powers_of_two_up_to_the_maximum() {
        let rows: Vec<u32> = (0..1300).collect();
        let sizes: Vec<usize> = statement_chunks(&rows, 512).map(<[u32]>::len).collect();
        assert_eq!(sizes, [512, 512, 256, 16, 4]);
        assert_eq!(statement_chunks(&rows[..0], 512).count(), 0);
        assert_eq!(statement_chunks(&rows[..1], 512).map(<[u32]>::len).collect::<Vec<_>>(), [1]);
    }
}
