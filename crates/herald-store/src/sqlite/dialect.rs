//! SQLite's JSON functions: `json_type`, `json_extract` and `json_each` over the TEXT document.

use crate::sql::{Bind, Dialect, MessageSet, Sql};
use herald_core::query::{Comparison, Direction, FieldPath};
use serde_json::Value;

pub(crate) struct SqliteDialect;

impl SqliteDialect {
    /// `(json_type(doc, path) IS NOT 'object' AND EXISTS (SELECT 1 FROM json_each(doc, path) e
    /// WHERE <element condition>))`: json_each yields the value itself for a scalar and each
    /// element for an array, which is MongoDB's "equal, or an element equal" rule.
    fn any_element(sql: &mut Sql, path: &FieldPath, element: impl FnOnce(&mut Sql)) {
        sql.push("(json_type(doc, ").bind(Bind::Text(path.json_path())).push(") IS NOT 'object' AND EXISTS (SELECT 1 FROM json_each(doc, ");
        sql.bind(Bind::Text(path.json_path())).push(") e WHERE ");
        element(sql);
        sql.push("))");
    }
}

impl Dialect for SqliteDialect {
    const SKIP_LOCKED: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    fn append_element(sql: &mut Sql, array: &str, value: Value) {
        sql.push("json_insert(doc, ").bind(Bind::Text(format!("$.{array}[#]"))).push(", json(").bind(Bind::Json(value)).push("))");
    }

    fn array_length(sql: &mut Sql, array: &str) {
        sql.push("json_array_length(doc, ").bind(Bind::Text(format!("$.{array}"))).push(")");
    }

    fn set_messages(sets: &mut dyn Iterator<Item = MessageSet>) -> Sql {
        let mut sql = Sql::new(
            "UPDATE notifications SET doc = json_set(doc, v.column3, json(v.column4)), updated_ms = v.column5, revision = revision + 1 \
             FROM (VALUES ",
        );
        sql.push_rows(sets.map(|set| {
            vec![
                Bind::Text(set.tenant),
                Bind::Text(set.notification_id),
                Bind::Text(format!("$.messages[{}]", set.index)),
                Bind::Json(set.message),
                Bind::Int(set.at_ms),
            ]
        }));
        sql.push(") AS v WHERE notifications.tenant_id = v.column1 AND notifications.id = v.column2");
        sql
    }

    fn body_equals(sql: &mut Sql, path: &FieldPath, value: &Value) {
        match value {
            Value::Null => {
                sql.push("(json_type(doc, ").bind(Bind::Text(path.json_path())).push(") IS NULL OR json_type(doc, ");
                sql.bind(Bind::Text(path.json_path())).push(") = 'null')");
            }
            Value::Bool(b) => Self::any_element(sql, path, |sql| {
                sql.push(if *b { "e.type = 'true'" } else { "e.type = 'false'" });
            }),
            Value::String(_) => Self::any_element(sql, path, |sql| {
                sql.push("e.type = 'text' AND e.value = ").bind(Bind::from(value));
            }),
            Value::Number(_) => Self::any_element(sql, path, |sql| {
                sql.push("e.type IN ('integer', 'real') AND e.value = ").bind(Bind::from(value));
            }),
            Value::Array(_) | Value::Object(_) => {
                sql.push("COALESCE(json_type(doc, ")
                    .bind(Bind::Text(path.json_path()))
                    .push(") IN ('array', 'object') AND json_extract(doc, ");
                sql.bind(Bind::Text(path.json_path())).push(") = json(").bind(Bind::Text(value.to_string())).push("), 0)");
            }
        }
    }

    fn body_compare(sql: &mut Sql, path: &FieldPath, comparison: Comparison, value: &Value) {
        let types = if value.is_number() { "('integer', 'real')" } else { "('text')" };
        Self::any_element(sql, path, |sql| {
            sql.push("e.type IN ").push(types).push(" AND e.value ").push(comparison.sql()).push(" ").bind(Bind::from(value));
        });
    }

    fn body_exists(sql: &mut Sql, path: &FieldPath) {
        sql.push("(json_type(doc, ").bind(Bind::Text(path.json_path())).push(") IS NOT NULL)");
    }

    fn body_sort_key(sql: &mut Sql, path: &FieldPath) {
        sql.push("json_extract(doc, ").bind(Bind::Text(path.json_path())).push(")");
    }

    fn nulls(_: Direction) -> &'static str {
        ""
    }
}
