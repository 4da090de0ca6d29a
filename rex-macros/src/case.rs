//! Case conventions for kind names (`#[rex(rename_all = "…")]`), with the
//! same names serde uses.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

pub(crate) const RULE_NAMES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    pub(crate) fn from_str(name: &str) -> Option<RenameRule> {
        RULE_NAMES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    /// Applies the rule to a variant name written in PascalCase.
    pub(crate) fn apply(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            RenameRule::Snake => snake_case(variant),
            RenameRule::ScreamingSnake => snake_case(variant).to_ascii_uppercase(),
            RenameRule::Kebab => snake_case(variant).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                snake_case(variant).replace('_', "-").to_ascii_uppercase()
            }
        }
    }
}

/// `SetName` → `set_name`: an underscore before each upper-case letter but
/// the first, then lower case.
pub(crate) fn snake_case(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.char_indices() {
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_serde_names() {
        let cases = [
            (RenameRule::Lower, "setname"),
            (RenameRule::Upper, "SETNAME"),
            (RenameRule::Pascal, "SetName"),
            (RenameRule::Camel, "setName"),
            (RenameRule::Snake, "set_name"),
            (RenameRule::ScreamingSnake, "SET_NAME"),
            (RenameRule::Kebab, "set-name"),
            (RenameRule::ScreamingKebab, "SET-NAME"),
        ];
        for (rule, want) in cases {
            assert_eq!(rule.apply("SetName"), want, "{rule:?}");
        }
        assert_eq!(snake_case("Say"), "say");
        assert_eq!(snake_case("Already_Snake"), "already_snake");
        for (name, rule) in RULE_NAMES {
            assert_eq!(RenameRule::from_str(name), Some(*rule));
        }
    }
}
