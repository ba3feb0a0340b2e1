//! The pages' prose lives in template files (`templates/*.md`), with `{{key}}` wherever a number
//! or a measured passage goes; a page module resolves each key.

/// Every `{{key}}` of `template`, in order (for the tests that check each one resolves).
#[cfg(test)]
pub(super) fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split("{{").skip(1).filter_map(|rest| {
        let (key, _) = rest.split_once("}}")?;
        Some(key)
    })
}

/// `template` with each `{{key}}` replaced by `resolve(key)`. A key that does not resolve stays
/// as written, so a mistake shows on the page (and the page's tests fail) instead of vanishing.
pub(super) fn fill(template: &str, mut resolve: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match resolve(key) {
                    Some(text) => out.push_str(&text),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_order() {
        let text = fill("a {{x}} b {{y z}} c", |key| Some(key.to_uppercase()));
        assert_eq!(text, "a X b Y Z c");
        assert_eq!(
            placeholders("{{x}} and {{y z}}").collect::<Vec<_>>(),
            ["x", "y z"]
        );
    }

    #[test]
    fn an_unknown_or_unclosed_placeholder_stays_visible() {
        assert_eq!(fill("a {{x}} b", |_| None), "a {{x}} b");
        assert_eq!(fill("a {{x b", |_| Some(String::new())), "a {{x b");
    }
}
