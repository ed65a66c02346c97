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

/// SQL text with its binds, in placeholder order. Placeholders are numbered (`$1`), which
/// both PostgreSQL and SQLite accept.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self { text: text.to_string(), binds: Vec::new() }
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
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }
}
