//! The CRUD service's query language: MongoDB-style filters (`_q` and field equality), list
//! options (`_l`, `_sk`, `_s`, `_p`) and update operators. Parsed here into plain types that
//! each storage backend translates to its own SQL.

mod field;
mod filter;
mod list;
mod update;

pub use field::{Field, FieldPath, SystemField};
pub use filter::{Comparison, Filter, Op};
pub use list::{Direction, ListQuery, SortKey};
pub use update::Update;
