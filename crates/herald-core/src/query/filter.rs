use super::field::{Field, FieldPath, SystemField};
use crate::Invalid;
use serde_json::Value;

/// A parsed MongoDB-style filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Every part matches (an empty list matches everything).
    And(Vec<Filter>),
    /// At least one part matches.
    Or(Vec<Filter>),
    /// No part matches.
    Nor(Vec<Filter>),
    /// A condition on one field.
    Condition(Field, Op),
}

/// An ordering comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `$gt`.
    Gt,
    /// `$gte`.
    Gte,
    /// `$lt`.
    Lt,
    /// `$lte`.
    Lte,
}

impl Comparison {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
        }
    }
}

/// A condition on a field, with MongoDB's meaning: equality on an array field matches when
/// any element is equal; `$ne` and `$nin` also match documents without the field.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `$eq` (or a bare value).
    Eq(Value),
    /// `$ne`.
    Ne(Value),
    /// `$gt`, `$gte`, `$lt`, `$lte` against a string or a number.
    Compare(Comparison, Value),
    /// `$in`.
    In(Vec<Value>),
    /// `$nin`.
    Nin(Vec<Value>),
    /// `$exists`.
    Exists(bool),
}

const MAX_DEPTH: usize = 8;
const MAX_CONDITIONS: usize = 100;
const MAX_LIST: usize = 500;

impl Filter {
    /// A filter that matches everything.
    pub fn all() -> Self {
        Filter::And(Vec::new())
    }

    /// Body field `path` (a valid dotted path the caller spells) equals `value`.
    pub fn equals(path: &str, value: impl Into<Value>) -> Self {
        Filter::Condition(Field::Body(FieldPath::parse(path).expect("a valid field path")), Op::Eq(value.into()))
    }

    /// Body field `path` equals one of `values`.
    pub fn one_of<V: Into<Value>>(path: &str, values: impl IntoIterator<Item = V>) -> Self {
        Filter::Condition(
            Field::Body(FieldPath::parse(path).expect("a valid field path")),
            Op::In(values.into_iter().map(Into::into).collect()),
        )
    }

    /// Parses a `_q` value.
    pub fn parse(query: &Value) -> Result<Self, Invalid> {
        let mut budget = MAX_CONDITIONS;
        parse_object(query, 0, &mut budget).map_err(|e| e.within("_q"))
    }

    /// Parses a plain query parameter `field=value`: equal to the text, or to the number or
    /// boolean it spells (query strings carry no types).
    pub fn from_query_param(name: &str, value: &str) -> Result<Self, Invalid> {
        let field = Field::parse(name)?;
        let text = Value::String(value.to_string());
        let op = match (&field, serde_json::from_str::<Value>(value)) {
            (Field::Body(_), Ok(typed @ (Value::Number(_) | Value::Bool(_)))) => Op::In(vec![text, typed]),
            _ => Op::Eq(text),
        };
        condition(field, op, &mut 1).map_err(|e| Invalid::new(name, e.reason))
    }
}

fn parse_object(value: &Value, depth: usize, budget: &mut usize) -> Result<Filter, Invalid> {
    if depth > MAX_DEPTH {
        return Err(Invalid::new("", "is nested too deeply"));
    }
    let Value::Object(map) = value else {
        return Err(Invalid::new("", "must be a JSON object"));
    };
    let mut parts = Vec::with_capacity(map.len());
    for (key, value) in map {
        let part = match key.as_str() {
            "$and" | "$or" | "$nor" => {
                let Value::Array(items) = value else {
                    return Err(Invalid::new(key.as_str(), "must be an array of filters"));
                };
                if items.is_empty() {
                    return Err(Invalid::new(key.as_str(), "must not be empty"));
                }
                let inner = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_object(item, depth + 1, budget).map_err(|e| e.within(&format!("{key}[{i}]"))))
                    .collect::<Result<Vec<_>, _>>()?;
                match key.as_str() {
                    "$and" => Filter::And(inner),
                    "$or" => Filter::Or(inner),
                    _ => Filter::Nor(inner),
                }
            }
            op if op.starts_with('$') => {
                return Err(Invalid::new(op, "is not a supported operator"));
            }
            field => parse_field(field, value, budget).map_err(|e| if e.field.is_empty() { Invalid::new(field, e.reason) } else { e })?,
        };
        parts.push(part);
    }
    Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Filter::And(parts) })
}

fn parse_field(name: &str, value: &Value, budget: &mut usize) -> Result<Filter, Invalid> {
    let field = Field::parse(name)?;
    let operators = match value {
        Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => map,
        other => return condition(field, Op::Eq(other.clone()), budget),
    };
    if operators.keys().any(|k| !k.starts_with('$')) {
        return Err(Invalid::new(name, "cannot mix operators and plain fields"));
    }
    let mut parts = operators
        .iter()
        .map(|(op, arg)| condition(field.clone(), parse_op(op, arg).map_err(|r| Invalid::new(format!("{name}.{op}"), r))?, budget))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Filter::And(parts) })
}

fn condition(field: Field, op: Op, budget: &mut usize) -> Result<Filter, Invalid> {
    *budget = budget.checked_sub(1).ok_or_else(|| Invalid::new("", format!("has more than {MAX_CONDITIONS} conditions")))?;
    let op = match &field {
        Field::System(system) => system_op(*system, op)?,
        Field::Body(_) => op,
    };
    Ok(Filter::Condition(field, op))
}

/// System fields are typed columns: ids compare as text, timestamps as epoch milliseconds
/// (given as ISO 8601 strings or as numbers of milliseconds).
fn system_op(field: SystemField, op: Op) -> Result<Op, Invalid> {
    let convert = |value: Value| -> Result<Value, Invalid> {
        match (field.is_timestamp(), value) {
            (true, Value::String(text)) => text
                .parse::<jiff::Timestamp>()
                .map(|ts| Value::from(ts.as_millisecond()))
                .map_err(|_| Invalid::new("", "must be an ISO 8601 date-time such as 2024-05-01T09:00:00Z")),
            (true, Value::Number(n)) if n.is_i64() => Ok(Value::Number(n)),
            (true, _) => Err(Invalid::new("", "must be an ISO 8601 date-time")),
            (false, text @ Value::String(_)) => Ok(text),
            (false, _) => Err(Invalid::new("", "must be a string")),
        }
    };
    let convert_all = |values: Vec<Value>| values.into_iter().map(convert).collect::<Result<Vec<_>, _>>();
    Ok(match op {
        Op::Eq(v) => Op::Eq(convert(v)?),
        Op::Ne(v) => Op::Ne(convert(v)?),
        Op::Compare(c, v) => Op::Compare(c, convert(v)?),
        Op::In(vs) => Op::In(convert_all(vs)?),
        Op::Nin(vs) => Op::Nin(convert_all(vs)?),
        exists @ Op::Exists(_) => exists,
    })
}

fn parse_op(op: &str, arg: &Value) -> Result<Op, String> {
    let list = |arg: &Value| -> Result<Vec<Value>, String> {
        match arg {
            Value::Array(items) if items.len() <= MAX_LIST => Ok(items.clone()),
            Value::Array(_) => Err(format!("must list at most {MAX_LIST} values")),
            _ => Err("must be an array".into()),
        }
    };
    let comparable = |arg: &Value| -> Result<Value, String> {
        match arg {
            Value::String(_) | Value::Number(_) => Ok(arg.clone()),
            _ => Err("must be a string or a number".into()),
        }
    };
    Ok(match op {
        "$eq" => Op::Eq(arg.clone()),
        "$ne" => Op::Ne(arg.clone()),
        "$gt" => Op::Compare(Comparison::Gt, comparable(arg)?),
        "$gte" => Op::Compare(Comparison::Gte, comparable(arg)?),
        "$lt" => Op::Compare(Comparison::Lt, comparable(arg)?),
        "$lte" => Op::Compare(Comparison::Lte, comparable(arg)?),
        "$in" => Op::In(list(arg)?),
        "$nin" => Op::Nin(list(arg)?),
        "$exists" => match arg {
            Value::Bool(b) => Op::Exists(*b),
            _ => return Err("must be true or false".into()),
        },
        _ => return Err("is not a supported operator".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(path: &str) -> Field {
        Field::Body(FieldPath::parse(path).unwrap())
    }

    #[test]
    fn parses_operators() {
        let f = Filter::parse(&json!({"$or": [{"name": "a"}, {"age": {"$gte": 3, "$lt": 9}}], "_id": {"$in": ["x"]}})).unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Or(vec![
                    Filter::Condition(body("name"), Op::Eq(json!("a"))),
                    Filter::And(vec![
                        Filter::Condition(body("age"), Op::Compare(Comparison::Gte, json!(3))),
                        Filter::Condition(body("age"), Op::Compare(Comparison::Lt, json!(9))),
                    ]),
                ]),
                Filter::Condition(Field::System(SystemField::Id), Op::In(vec![json!("x")])),
            ])
        );
    }

    #[test]
    fn plain_objects_are_equality() {
        let f = Filter::parse(&json!({"address": {"city": "Rome"}})).unwrap();
        assert_eq!(f, Filter::Condition(body("address"), Op::Eq(json!({"city": "Rome"}))));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            (json!({"name": {"$regex": "^a"}}), "_q.name.$regex"),
            (json!({"$where": "1"}), "_q.$where"),
            (json!({"$or": {}}), "_q.$or"),
            (json!({"$or": [{"a": {"$gt": true}}]}), "_q.$or[0].a.$gt"),
            (json!({"a": {"$in": 3}}), "_q.a.$in"),
            (json!({"a b": 1}), "_q.a b"),
            (json!([1]), "_q"),
            (json!({"a": {"$exists": 1}}), "_q.a.$exists"),
            (json!({"a": {"$eq": 1, "b": 2}}), "_q.a"),
        ];
        for (q, field) in cases {
            assert_eq!(Filter::parse(&q).unwrap_err().field, field, "{q}");
        }
    }

    #[test]
    fn bounded_size() {
        let many: Vec<Value> = (0..101).map(|i| json!({"a": i})).collect();
        assert!(Filter::parse(&json!({"$or": many})).is_err());
        let mut deep = json!({"a": 1});
        for _ in 0..10 {
            deep = json!({"$and": [deep]});
        }
        assert!(Filter::parse(&deep).is_err());
    }

    #[test]
    fn system_timestamps_become_milliseconds() {
        let f = Filter::parse(&json!({"createdAt": {"$gte": "2020-04-05T17:16:14.175Z"}})).unwrap();
        assert_eq!(f, Filter::Condition(Field::System(SystemField::CreatedAt), Op::Compare(Comparison::Gte, json!(1_586_106_974_175_i64))));
        assert_eq!(Filter::parse(&json!({"createdAt": "yesterday"})).unwrap_err().field, "_q.createdAt");
        assert_eq!(Filter::parse(&json!({"_id": 3})).unwrap_err().field, "_q._id");
    }

    #[test]
    fn query_params_match_text_or_typed() {
        assert_eq!(Filter::from_query_param("n", "5").unwrap(), Filter::Condition(body("n"), Op::In(vec![json!("5"), json!(5)])));
        assert_eq!(Filter::from_query_param("n", "Rome").unwrap(), Filter::Condition(body("n"), Op::Eq(json!("Rome"))));
    }
}
