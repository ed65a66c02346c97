use super::MessageSet;
use super::builder::{Bind, Sql};
use herald_core::query::{Comparison, Direction, Field, FieldPath, Filter, Op, SortKey, SystemField};
use serde_json::Value;

/// The JSON-specific SQL of one backend. Every boolean expression it writes must be true or
/// false, never NULL, so that `NOT` keeps MongoDB's meaning for missing fields.
pub(crate) trait Dialect {
    /// The body field equals `value`, or is an array with an element equal to it.
    fn body_equals(sql: &mut Sql, path: &FieldPath, value: &Value);
    /// The body field (or an element of it) is a string or number comparing so to `value`.
    fn body_compare(sql: &mut Sql, path: &FieldPath, comparison: Comparison, value: &Value);
    /// The body field is present (even if null).
    fn body_exists(sql: &mut Sql, path: &FieldPath);
    /// An expression to sort by the body field.
    fn body_sort_key(sql: &mut Sql, path: &FieldPath);
    /// Where missing values go when sorting: MongoDB puts them first when ascending.
    fn nulls(direction: Direction) -> &'static str;
    /// What makes a claim skip rows another worker holds (nothing where one writer excludes
    /// the others anyway).
    const SKIP_LOCKED: &'static str;
    /// What locks a row read for a change (nothing where one writer excludes the others).
    const FOR_UPDATE: &'static str;
    /// How the writer begins its transactions. On SQLite the write lock is taken at once: a
    /// batch may read before it writes (a claim lists the tenants first), and a transaction
    /// that read before another store on the same file committed cannot take the lock later —
    /// it fails with "database is locked" instead of waiting.
    const BEGIN_WRITE: &'static str;
    /// `doc` with `value` appended to its top-level array `array`.
    fn append_element(sql: &mut Sql, array: &str, value: Value);
    /// The length of `doc`'s top-level array `array`.
    fn array_length(sql: &mut Sql, array: &str);
    /// One update setting each of `sets`' messages in its notification; at most one per
    /// notification (which of two would win is not defined).
    fn set_messages(sets: &mut dyn Iterator<Item = MessageSet>) -> Sql;
}

fn column(field: SystemField) -> &'static str {
    match field {
        SystemField::Id => "id",
        SystemField::CreatedAt => "created_ms",
        SystemField::UpdatedAt => "updated_ms",
        SystemField::CreatorId => "creator_id",
        SystemField::UpdaterId => "updater_id",
    }
}

/// Appends the SQL for `filter`. Equality on the collection's lookup field (`lookup`, a
/// dotted path whose values are strings) uses its indexed `lookup_key` column.
pub(crate) fn push_filter<D: Dialect>(sql: &mut Sql, filter: &Filter, lookup: &str) {
    match filter {
        Filter::And(parts) => push_joined::<D>(sql, parts, " AND ", "1=1", lookup),
        Filter::Or(parts) => push_joined::<D>(sql, parts, " OR ", "1=0", lookup),
        Filter::Nor(parts) => {
            sql.push("NOT ");
            push_joined::<D>(sql, parts, " OR ", "1=0", lookup);
        }
        Filter::Condition(Field::Body(path), op) if path.dotted() == lookup && push_lookup(sql, op) => {}
        Filter::Condition(field, op) => push_condition::<D>(sql, field, op),
    }
}

/// `lookup_key = …` or `lookup_key IN (…)` for string equality; false (nothing written) for
/// anything else.
fn push_lookup(sql: &mut Sql, op: &Op) -> bool {
    let strings = |values: &[Value]| values.iter().all(Value::is_string) && !values.is_empty();
    match op {
        Op::Eq(value @ Value::String(_)) => {
            sql.push("(lookup_key = ").bind(Bind::from(value)).push(")");
            true
        }
        Op::In(values) if strings(values) => {
            sql.push("(lookup_key IN (");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(Bind::from(value));
            }
            sql.push("))");
            true
        }
        _ => false,
    }
}

fn push_joined<D: Dialect>(sql: &mut Sql, parts: &[Filter], separator: &str, empty: &str, lookup: &str) {
    if parts.is_empty() {
        sql.push(empty);
        return;
    }
    sql.push("(");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(separator);
        }
        push_filter::<D>(sql, part, lookup);
    }
    sql.push(")");
}

fn push_condition<D: Dialect>(sql: &mut Sql, field: &Field, op: &Op) {
    match op {
        Op::Eq(value) => push_equals::<D>(sql, field, value),
        Op::Ne(value) => {
            sql.push("NOT ");
            push_equals::<D>(sql, field, value);
        }
        Op::In(values) => push_any_equal::<D>(sql, field, values),
        Op::Nin(values) => {
            sql.push("NOT ");
            push_any_equal::<D>(sql, field, values);
        }
        Op::Compare(comparison, value) => match field {
            Field::Body(path) => D::body_compare(sql, path, *comparison, value),
            Field::System(system) => {
                let comparable = system.is_timestamp() == value.is_number();
                if comparable {
                    sql.push("(").push(column(*system)).push(" ").push(comparison.sql()).push(" ").bind(Bind::from(value)).push(")");
                } else {
                    sql.push("1=0");
                }
            }
        },
        Op::Exists(exists) => {
            if !exists {
                sql.push("NOT ");
            }
            match field {
                Field::Body(path) => D::body_exists(sql, path),
                Field::System(_) => {
                    sql.push("1=1");
                }
            }
        }
    }
}

fn push_equals<D: Dialect>(sql: &mut Sql, field: &Field, value: &Value) {
    match field {
        Field::Body(path) => D::body_equals(sql, path, value),
        Field::System(system) => {
            sql.push("(").push(column(*system)).push(" = ").bind(Bind::from(value)).push(")");
        }
    }
}

fn push_any_equal<D: Dialect>(sql: &mut Sql, field: &Field, values: &[Value]) {
    if values.is_empty() {
        sql.push("1=0");
        return;
    }
    sql.push("(");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        push_equals::<D>(sql, field, value);
    }
    sql.push(")");
}

/// Appends `ORDER BY …`, ending with insertion order.
pub(crate) fn push_order<D: Dialect>(sql: &mut Sql, sort: &[SortKey]) {
    sql.push(" ORDER BY ");
    for key in sort {
        match &key.field {
            Field::Body(path) => D::body_sort_key(sql, path),
            Field::System(system) => {
                sql.push(column(*system));
            }
        }
        sql.push(match key.direction {
            Direction::Ascending => " ASC",
            Direction::Descending => " DESC",
        });
        sql.push(D::nulls(key.direction)).push(", ");
    }
    sql.push("seq ASC");
}
