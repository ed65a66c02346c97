use super::field::Field;
use super::filter::Filter;
use crate::Invalid;

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Ascending,
    /// Largest first (`-field`).
    Descending,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// What to sort by.
    pub field: Field,
    /// Which way.
    pub direction: Direction,
}

/// A parsed list request: filter, sort, page and projection.
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    /// Which documents.
    pub filter: Filter,
    /// In which order; insertion order when empty (and after the keys, to break ties).
    pub sort: Vec<SortKey>,
    /// How many at most.
    pub limit: u32,
    /// How many to skip first.
    pub skip: u64,
    /// Which fields to return; all when `None`.
    pub projection: Option<Vec<String>>,
}

impl ListQuery {
    /// Up to `limit` documents matching `filter`, in insertion order.
    pub fn matching(filter: Filter, limit: u32) -> Self {
        ListQuery { filter, sort: Vec::new(), limit, skip: 0, projection: None }
    }

    /// Reads the CRUD service's query parameters. `_l` defaults to and is capped at
    /// `max_limit`; unknown `_`-prefixed parameters are refused; any other parameter is a
    /// field equality; `_st` is accepted and ignored (every Herald document is `PUBLIC`).
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, max_limit: u32) -> Result<Self, Invalid> {
        let mut query = ListQuery { filter: Filter::all(), sort: Vec::new(), limit: max_limit, skip: 0, projection: None };
        let mut conditions = Vec::new();
        for (name, value) in params {
            match name {
                "_l" => {
                    let limit: u32 =
                        value.parse().ok().filter(|l| *l >= 1).ok_or_else(|| Invalid::new("_l", "must be a whole number of at least 1"))?;
                    query.limit = limit.min(max_limit);
                }
                "_sk" => query.skip = value.parse().map_err(|_| Invalid::new("_sk", "must be a whole number of at least 0"))?,
                "_s" => {
                    for key in value.split(',').filter(|k| !k.is_empty()) {
                        let (direction, name) = match key.strip_prefix('-') {
                            Some(name) => (Direction::Descending, name),
                            None => (Direction::Ascending, key.strip_prefix('+').unwrap_or(key)),
                        };
                        let field = Field::parse(name).map_err(|e| e.within("_s"))?;
                        query.sort.push(SortKey { field, direction });
                    }
                }
                "_p" => {
                    let fields = query.projection.get_or_insert_with(Vec::new);
                    for field in value.split(',').filter(|f| !f.is_empty()) {
                        Field::parse(field).map_err(|e| e.within("_p"))?;
                        fields.push(field.to_string());
                    }
                }
                "_q" => {
                    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|_| Invalid::new("_q", "must be a JSON object"))?;
                    conditions.push(Filter::parse(&parsed)?);
                }
                "_st" => {}
                other if other.starts_with('_') && other != "_id" => {
                    return Err(Invalid::new(other, "is not a supported query parameter"));
                }
                field => conditions.push(Filter::from_query_param(field, value)?),
            }
        }
        if query.sort.len() > 4 {
            return Err(Invalid::new("_s", "can sort by at most 4 fields"));
        }
        query.filter = match conditions.len() {
            0 => Filter::all(),
            1 => conditions.pop().expect("one condition"),
            _ => Filter::And(conditions),
        };
        Ok(query)
    }

    /// Parses only the filter parts (`_q` and field equalities), as `GET …/count` takes them.
    pub fn filter_from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Filter, Invalid> {
        let params = params.into_iter().filter(|(name, _)| !matches!(*name, "_l" | "_sk" | "_s" | "_p"));
        Ok(Self::from_params(params, 1)?.filter)
    }
}

#[cfg(test)]
mod tests {
    use super::super::field::FieldPath;
    use super::super::filter::Op;
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_parameter() {
        let q = ListQuery::from_params(
            [
                ("_l", "10"),
                ("_sk", "20"),
                ("_s", "-name,createdAt"),
                ("_p", "name,id"),
                ("_q", r#"{"a":{"$exists":true}}"#),
                ("group", "x"),
                ("_st", "PUBLIC"),
            ],
            200,
        )
        .unwrap();
        assert_eq!(q.limit, 10);
        assert_eq!(q.skip, 20);
        assert_eq!(q.sort.len(), 2);
        assert_eq!(q.sort[0].direction, Direction::Descending);
        assert_eq!(q.projection, Some(vec!["name".to_string(), "id".to_string()]));
        let Filter::And(parts) = q.filter else { panic!("expected two conditions") };
        assert_eq!(parts[1], Filter::Condition(Field::Body(FieldPath::parse("group").unwrap()), Op::Eq(json!("x"))));
    }

    #[test]
    fn limit_is_capped_and_defaulted() {
        assert_eq!(ListQuery::from_params([("_l", "5000")], 200).unwrap().limit, 200);
        assert_eq!(ListQuery::from_params([], 200).unwrap().limit, 200);
    }

    #[test]
    fn refuses_bad_parameters() {
        for (name, value, field) in
            [("_l", "0", "_l"), ("_l", "x", "_l"), ("_sk", "-1", "_sk"), ("_q", "{", "_q"), ("_zz", "1", "_zz"), ("_s", "a b", "_s.a b")]
        {
            assert_eq!(ListQuery::from_params([(name, value)], 200).unwrap_err().field, field, "{name}={value}");
        }
    }
}
