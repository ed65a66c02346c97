use crate::Invalid;

/// A path into a document body: dot-separated names of letters, digits and `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Checks and splits `text`, e.g. `user.address.city`.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let valid_segment = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !s.as_bytes()[0].is_ascii_digit()
        };
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if text.len() > 256 || segments.len() > 8 || !segments.iter().all(|s| valid_segment(s)) {
            return Err(Invalid::new(text.chars().take(64).collect::<String>(), "is not a valid field name"));
        }
        Ok(Self(segments))
    }

    /// The path's names, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The path written with dots.
    pub fn dotted(&self) -> String {
        self.0.join(".")
    }

    /// The path as an SQLite JSON path: `$.a.b`.
    pub fn json_path(&self) -> String {
        format!("$.{}", self.0.join("."))
    }
}

/// A field Herald manages itself, stored in its own column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemField {
    /// `_id`.
    Id,
    /// `createdAt`.
    CreatedAt,
    /// `updatedAt`.
    UpdatedAt,
    /// `creatorId`.
    CreatorId,
    /// `updaterId`.
    UpdaterId,
}

impl SystemField {
    /// Whether the field holds a timestamp.
    pub fn is_timestamp(self) -> bool {
        matches!(self, SystemField::CreatedAt | SystemField::UpdatedAt)
    }
}

/// Any field a filter or sort can name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A system field.
    System(SystemField),
    /// A path into the body.
    Body(FieldPath),
}

impl Field {
    /// Reads a field name as clients write it.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        Ok(match text {
            "_id" => Field::System(SystemField::Id),
            "createdAt" => Field::System(SystemField::CreatedAt),
            "updatedAt" => Field::System(SystemField::UpdatedAt),
            "creatorId" => Field::System(SystemField::CreatorId),
            "updaterId" => Field::System(SystemField::UpdaterId),
            other => Field::Body(FieldPath::parse(other)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(FieldPath::parse("a.b_c").unwrap().json_path(), "$.a.b_c");
        for bad in ["", "a..b", "a b", "a'b", "$where", "a.1", "a;--"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Field::parse("_id").unwrap(), Field::System(SystemField::Id));
        assert!(Field::parse("_internal").is_ok());
    }
}
