//! `getRecipients`: which users a query names.

use crate::query::Filter;
use serde::{Deserialize, Serialize};

/// A recipients query: users with any of the `ids`, and (when given) any of the `roles`,
/// and any of the `groups`, and any of the `clusters` — OR within a list, AND across lists, as
/// the seed's examples read ("doctors from one of these hospitals").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientQuery {
    /// User ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Clusters.
    #[serde(default)]
    pub clusters: Vec<String>,
}

impl RecipientQuery {
    /// Users with any of these ids.
    pub fn ids(ids: impl IntoIterator<Item = String>) -> Self {
        Self { ids: ids.into_iter().collect(), ..Self::default() }
    }

    /// Whether the query names nobody.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.roles.is_empty() && self.groups.is_empty() && self.clusters.is_empty()
    }

    /// The filter over the users collection.
    pub fn filter(&self) -> Filter {
        let parts: Vec<Filter> = [("id", &self.ids), ("roles", &self.roles), ("groups", &self.groups), ("clusters", &self.clusters)]
            .into_iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(field, values)| Filter::one_of(field, values.iter().cloned()))
            .collect();
        if parts.is_empty() { Filter::Or(Vec::new()) } else { Filter::And(parts) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_matches_nobody() {
        assert_eq!(RecipientQuery::default().filter(), Filter::Or(Vec::new()));
        assert!(RecipientQuery::default().is_empty());
    }

    #[test]
    fn lists_combine_with_and() {
        let query = RecipientQuery { groups: vec!["doctors".into()], clusters: vec!["a".into(), "b".into()], ..RecipientQuery::default() };
        let Filter::And(parts) = query.filter() else { panic!("an AND") };
        assert_eq!(parts.len(), 2);
    }
}
