//! Newtypes that validate on construction: once one exists, its value is known to be good.
//! Each deserializes through its validating constructor, so invalid data cannot get past the
//! edge of the system.

mod email;
mod event_name;
mod hours;
mod iso_duration;
mod phone;
mod slug;
mod time_zone;

pub use email::EmailAddress;
pub use event_name::EventName;
pub use hours::HoursRange;
pub use iso_duration::IsoDuration;
pub use phone::E164;
pub use slug::TenantSlug;
pub use time_zone::TimeZoneName;

/// Implements `Serialize`, `Deserialize` (through `parse`), `Display`, `AsRef<str>` and
/// `FromStr` for a string newtype with a `parse(&str) -> Result<Self, &'static str>` constructor.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = &'static str;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(Self::DESCRIPTION))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use string_newtype;
