use super::field::FieldPath;
use crate::Invalid;
use crate::document::SYSTEM_FIELDS;
use serde_json::{Map, Value};

/// A parsed PATCH body: `$set`, `$unset`, `$push`, `$pull` and `$addToSet`, each a map from
/// (dotted) field paths to values. A plain object with no operator is a `$set`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    set: Vec<(FieldPath, Value)>,
    unset: Vec<FieldPath>,
    push: Vec<(FieldPath, Value)>,
    pull: Vec<(FieldPath, Value)>,
    add_to_set: Vec<(FieldPath, Value)>,
}

impl Update {
    /// Parses a PATCH body. System fields cannot be changed.
    pub fn parse(body: &Value) -> Result<Self, Invalid> {
        let Value::Object(map) = body else {
            return Err(Invalid::new("", "the body must be a JSON object"));
        };
        if map.is_empty() {
            return Err(Invalid::new("", "the body must contain at least one change"));
        }
        let operators = map.keys().filter(|k| k.starts_with('$')).count();
        if operators == 0 {
            return Ok(Update { set: Self::fields("", map)?, ..Update::default() });
        }
        if operators != map.len() {
            return Err(Invalid::new("", "cannot mix update operators and plain fields"));
        }
        let mut update = Update::default();
        for (op, fields) in map {
            let Value::Object(fields) = fields else {
                return Err(Invalid::new(op.as_str(), "must be an object of fields"));
            };
            let parsed = Self::fields(op, fields)?;
            match op.as_str() {
                "$set" => update.set = parsed,
                "$unset" => update.unset = parsed.into_iter().map(|(path, _)| path).collect(),
                "$push" => update.push = parsed,
                "$pull" => update.pull = parsed,
                "$addToSet" => update.add_to_set = parsed,
                other => return Err(Invalid::new(other, "is not a supported update operator")),
            }
        }
        Ok(update)
    }

    fn fields(op: &str, fields: &Map<String, Value>) -> Result<Vec<(FieldPath, Value)>, Invalid> {
        fields
            .iter()
            .map(|(name, value)| {
                let field = if op.is_empty() { name.clone() } else { format!("{op}.{name}") };
                if SYSTEM_FIELDS.contains(&name.as_str()) {
                    return Err(Invalid::new(field, "is managed by Herald and cannot be changed"));
                }
                let path = FieldPath::parse(name).map_err(|e| Invalid::new(field, e.reason))?;
                Ok((path, value.clone()))
            })
            .collect()
    }

    /// The top-level fields this update touches.
    pub fn touched_fields(&self) -> impl Iterator<Item = &str> {
        let paths = self.set.iter().map(|(p, _)| p).chain(&self.unset).chain(self.push.iter().map(|(p, _)| p));
        paths.chain(self.pull.iter().map(|(p, _)| p)).chain(self.add_to_set.iter().map(|(p, _)| p)).map(|p| p.segments()[0].as_str())
    }

    /// Applies the update to a document body, in the order `$set`, `$unset`, `$push`, `$pull`,
    /// `$addToSet`. Array operators on a field that is not an array are refused.
    pub fn apply(&self, body: &mut Map<String, Value>) -> Result<(), Invalid> {
        for (path, value) in &self.set {
            *slot(body, path, true)?.expect("created on demand") = value.clone();
        }
        for path in &self.unset {
            let (parents, last) = path.segments().split_at(path.segments().len() - 1);
            let mut current = Some(&mut *body);
            for segment in parents {
                current = current.and_then(|map| map.get_mut(segment)).and_then(Value::as_object_mut);
            }
            if let Some(map) = current {
                map.remove(&last[0]);
            }
        }
        for (path, value) in &self.push {
            array_at(body, path)?.push(value.clone());
        }
        for (path, value) in &self.pull {
            if let Some(slot) = slot(body, path, false)? {
                match slot {
                    Value::Array(items) => items.retain(|item| item != value),
                    _ => return Err(Invalid::new(path.dotted(), "is not an array")),
                }
            }
        }
        for (path, value) in &self.add_to_set {
            let items = array_at(body, path)?;
            if !items.contains(value) {
                items.push(value.clone());
            }
        }
        Ok(())
    }
}

/// The value at `path`, creating intermediate objects (and a null leaf) when `create` is set.
fn slot<'a>(body: &'a mut Map<String, Value>, path: &FieldPath, create: bool) -> Result<Option<&'a mut Value>, Invalid> {
    let (last, parents) = path.segments().split_last().expect("paths have a segment");
    let mut map = body;
    for segment in parents {
        if create && !map.contains_key(segment) {
            map.insert(segment.clone(), Value::Object(Map::new()));
        }
        map = match map.get_mut(segment) {
            Some(Value::Object(inner)) => inner,
            Some(_) => {
                return Err(Invalid::new(path.dotted(), format!("cannot be reached: {segment} is not an object")));
            }
            None => return Ok(None),
        };
    }
    if create {
        return Ok(Some(map.entry(last.clone()).or_insert(Value::Null)));
    }
    Ok(map.get_mut(last))
}

fn array_at<'a>(body: &'a mut Map<String, Value>, path: &FieldPath) -> Result<&'a mut Vec<Value>, Invalid> {
    let slot = slot(body, path, true)?.expect("created on demand");
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().ok_or_else(|| Invalid::new(path.dotted(), "is not an array"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(doc: Value, update: Value) -> Result<Value, Invalid> {
        let mut map = doc.as_object().unwrap().clone();
        Update::parse(&update)?.apply(&mut map)?;
        Ok(Value::Object(map))
    }

    #[test]
    fn every_operator() {
        let doc = json!({"name": "a", "tags": ["x", "y", "x"], "nested": {"k": 1}, "old": true});
        let out = apply(
            doc,
            json!({
                "$set": {"name": "b", "nested.j": 2, "deep.new": 3},
                "$unset": {"old": true, "nested.k": true},
                "$push": {"list": 1},
                "$pull": {"tags": "x"},
                "$addToSet": {"groups": "g"}
            }),
        )
        .unwrap();
        assert_eq!(out, json!({"name": "b", "tags": ["y"], "nested": {"j": 2}, "deep": {"new": 3}, "list": [1], "groups": ["g"]}));
    }

    #[test]
    fn add_to_set_keeps_one_copy() {
        assert_eq!(apply(json!({"g": ["a"]}), json!({"$addToSet": {"g": "a"}})).unwrap(), json!({"g": ["a"]}));
    }

    #[test]
    fn plain_object_is_set() {
        assert_eq!(apply(json!({"a": 1}), json!({"b": 2})).unwrap(), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn refuses_bad_updates() {
        let cases = [
            (json!({"$set": {"_id": "x"}}), "$set._id"),
            (json!({"createdAt": "x"}), "createdAt"),
            (json!({"$inc": {"a": 1}}), "$inc"),
            (json!({"$set": {"a": 1}, "b": 2}), ""),
            (json!({"$set": 3}), "$set"),
            (json!({"$set": {"a b": 3}}), "$set.a b"),
            (json!({"$push": {"name": 1}}), "name"),
            (json!([]), ""),
            (json!({}), ""),
        ];
        for (update, field) in cases {
            assert_eq!(apply(json!({"name": "a"}), update.clone()).unwrap_err().field, field, "{update}");
        }
    }
}
