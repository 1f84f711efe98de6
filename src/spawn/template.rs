//! The command template: a command split into shell words, with `{name}` placeholders found in
//! each word and filled in per start.

use std::collections::BTreeMap;

/// A command split into words, each word a sequence of literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    words: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Placeholder(String),
}

impl Template {
    /// Finds `{name}` (name: a letter or `_`, then letters, digits, `_` or `-`) in each word;
    /// `{{` is a literal `{`, and any other brace is literal text.
    pub(super) fn parse(words: &[String]) -> Template {
        let words = words
            .iter()
            .map(|word| {
                let mut pieces = Vec::new();
                let mut literal = String::new();
                let mut rest = word.as_str();
                while let Some(open) = rest.find('{') {
                    literal.push_str(&rest[..open]);
                    let after = &rest[open + 1..];
                    if let Some(stripped) = after.strip_prefix('{') {
                        literal.push('{');
                        rest = stripped;
                    } else if let Some(name) = placeholder_name(after) {
                        if !literal.is_empty() {
                            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                        }
                        pieces.push(Piece::Placeholder(name.to_owned()));
                        rest = &after[name.len() + 1..];
                    } else {
                        literal.push('{');
                        rest = after;
                    }
                }
                literal.push_str(rest);
                if !literal.is_empty() || pieces.is_empty() {
                    pieces.push(Piece::Literal(literal));
                }
                pieces
            })
            .collect();
        Template { words }
    }

    pub(super) fn placeholder_names(&self) -> impl Iterator<Item = &str> {
        self.words.iter().flatten().filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name.as_str()),
            Piece::Literal(_) => None,
        })
    }

    pub(super) fn uses(&self, name: &str) -> bool {
        self.placeholder_names().any(|n| n == name)
    }

    /// The argv with every placeholder replaced; `plan` has checked that each one has a value.
    pub(super) fn render(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.words
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Literal(text) => text.as_str(),
                        Piece::Placeholder(name) => values.get(name).map_or("", String::as_str),
                    })
                    .collect()
            })
            .collect()
    }
}

/// If `text` (what follows a `{`) starts with `name}`, the name.
fn placeholder_name(text: &str) -> Option<&str> {
    let close = text.find('}')?;
    let name = &text[..close];
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_finds_placeholders_inside_words_and_keeps_other_braces() {
        let words: Vec<String> = [
            "srv",
            "--listen={addr}",
            "{}",
            "{{port}",
            "a{1,2}b",
            "{up}/{x-y}",
        ]
        .map(String::from)
        .to_vec();
        let template = Template::parse(&words);
        let names: Vec<&str> = template.placeholder_names().collect();
        assert_eq!(names, ["addr", "up", "x-y"]);
        let values = BTreeMap::from([
            ("addr".to_owned(), "127.0.0.1:0".to_owned()),
            ("up".to_owned(), "u v".to_owned()),
            ("x-y".to_owned(), "z".to_owned()),
        ]);
        assert_eq!(
            template.render(&values),
            [
                "srv",
                "--listen=127.0.0.1:0",
                "{}",
                "{port}",
                "a{1,2}b",
                "u v/z"
            ]
        );
    }
}
