//! Filtering a list as you type: every word of the query must appear in one
//! of a row's fields, ignoring case (`run py` keeps running python rows).

/// What the filter box of a list holds, and whether keys go to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub query: String,
    pub editing: bool,
}

impl ListFilter {
    pub fn is_active(&self) -> bool {
        !self.query.is_empty()
    }

    /// The filter as a panel title shows it: `/query▏` while typing.
    pub fn label(&self) -> Option<String> {
        match (self.editing, self.is_active()) {
            (true, _) => Some(format!("/{}▏", self.query)),
            (false, true) => Some(format!("/{}", self.query)),
            (false, false) => None,
        }
    }

    pub fn keeps<'a>(&self, fields: impl IntoIterator<Item = &'a str> + Clone) -> bool {
        matches(&self.query, fields)
    }
}

pub fn matches<'a>(query: &str, fields: impl IntoIterator<Item = &'a str> + Clone) -> bool {
    let lower: Vec<String> = fields.into_iter().map(str::to_lowercase).collect();
    query
        .split_whitespace()
        .map(str::to_lowercase)
        .all(|word| lower.iter().any(|f| f.contains(&word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_must_match_some_field() {
        let row = ["3f2a91c0", "trainer", "running", "gpu demo"];
        assert!(matches("", row));
        assert!(matches("TRAIN", row));
        assert!(matches("run demo", row));
        assert!(matches("3f2a", row));
        assert!(!matches("run stopped", row));
        assert!(!matches("zzz", row));
    }
}
