//! PostgreSQL's JSONB operators: `#>` to reach a path, `@>` for containment (a scalar is
//! contained in an array holding it), and typed comparison of JSONB values.

use crate::sql::{Bind, Dialect, MessageSet, Sql};
use herald_core::query::{Comparison, Direction, FieldPath};
use serde_json::Value;

pub(crate) struct PostgresDialect;

fn path_bind(path: &FieldPath) -> Bind {
    Bind::TextArray(path.segments().to_vec())
}

impl Dialect for PostgresDialect {
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const BEGIN_WRITE: &'static str = "BEGIN";

    fn append_element(sql: &mut Sql, array: &str, value: Value) {
        sql.push("jsonb_set(doc, ")
            .bind(Bind::TextArray(vec![array.to_string()]))
            .push(", COALESCE(doc -> ")
            .bind(Bind::Text(array.to_string()));
        sql.push(", '[]'::jsonb) || jsonb_build_array(").bind(Bind::Json(value)).push("))");
    }

    fn array_length(sql: &mut Sql, array: &str) {
        sql.push("jsonb_array_length(doc -> ").bind(Bind::Text(array.to_string())).push(")");
    }

    fn set_messages(sets: &mut dyn Iterator<Item = MessageSet>) -> Sql {
        let mut sql = Sql::new(
            "UPDATE notifications SET doc = jsonb_set(doc, v.path, v.message), updated_ms = v.at, revision = notifications.revision + 1 \
             FROM (VALUES ",
        );
        sql.push_rows(sets.map(|set| {
            vec![
                Bind::Text(set.tenant),
                Bind::Text(set.notification_id),
                Bind::TextArray(vec!["messages".to_string(), set.index.to_string()]),
                Bind::Json(set.message),
                Bind::Int(set.at_ms),
            ]
        }));
        sql.push(") AS v (tenant, id, path, message, at) WHERE notifications.tenant_id = v.tenant AND notifications.id = v.id");
        sql
    }

    fn body_equals(sql: &mut Sql, path: &FieldPath, value: &Value) {
        match value {
            Value::Null => {
                sql.push("COALESCE(doc #> ").bind(path_bind(path)).push(" = 'null'::jsonb, TRUE)");
            }
            Value::Array(_) | Value::Object(_) => {
                sql.push("COALESCE(doc #> ").bind(path_bind(path)).push(" = ").bind(Bind::Json(value.clone())).push(", FALSE)");
            }
            _ => {
                sql.push("COALESCE(doc #> ").bind(path_bind(path)).push(" @> ").bind(Bind::Json(value.clone())).push(", FALSE)");
            }
        }
    }

    fn body_compare(sql: &mut Sql, path: &FieldPath, comparison: Comparison, value: &Value) {
        let kind = if value.is_number() { "number" } else { "string" };
        sql.push("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(doc #> ").bind(path_bind(path));
        sql.push(") WHEN 'array' THEN doc #> ").bind(path_bind(path));
        sql.push(" ELSE jsonb_build_array(doc #> ").bind(path_bind(path)).push(") END) AS e(v) WHERE jsonb_typeof(e.v) = '");
        sql.push(kind).push("' AND e.v ").push(comparison.sql()).push(" ").bind(Bind::Json(value.clone())).push(")");
    }

    fn body_exists(sql: &mut Sql, path: &FieldPath) {
        sql.push("(doc #> ").bind(path_bind(path)).push(" IS NOT NULL)");
    }

    fn body_sort_key(sql: &mut Sql, path: &FieldPath) {
        sql.push("doc #> ").bind(path_bind(path));
    }

    fn nulls(direction: Direction) -> &'static str {
        match direction {
            Direction::Ascending => " NULLS FIRST",
            Direction::Descending => " NULLS LAST",
        }
    }
}
