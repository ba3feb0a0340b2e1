//! The page templates (`docs-gen/templates/`), rendered with MiniJinja.
//!
//! Why MiniJinja: the pages are Markdown with numbers, links and loops in them, which is what a
//! Jinja-style engine is for. It runs at run time from plain template files (no proc-macro, no
//! build step), so editing a page's words never means editing Rust, and its errors name the
//! template and line. It is small (a handful of optional features, no required dependencies).
//! Askama and Tera were the alternatives: Askama compiles templates into Rust through a
//! proc-macro (a type error for a prose edit), Tera pulls in a much larger dependency tree.
//!
//! Each page is one template over a plain page model (a `Serialize` struct computed in Rust
//! from the reports and the model); the templates hold the words. `macros.md` holds the small
//! pieces every page shares (a figure, a list of links). Undefined names are errors, so a
//! misspelt field fails the page's tests instead of vanishing from the page.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Every template, by the name templates import it by.
pub const TEMPLATES: [(&str, &str); 5] = [
    ("macros.md", include_str!("../templates/macros.md")),
    ("answers.md", include_str!("../templates/answers.md")),
    ("results.md", include_str!("../templates/results.md")),
    (
        "results-kernels.md",
        include_str!("../templates/results-kernels.md"),
    ),
    (
        "results-gvisor.md",
        include_str!("../templates/results-gvisor.md"),
    ),
];

/// The environment every page renders in: block tags take their own line away
/// (`trim_blocks`, `lstrip_blocks`), a template's last newline stays, nothing is escaped
/// (Markdown), undefined names are errors.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // A table cell's text: a `|` in it would end the cell.
    env.add_filter("cell", |text: &str| {
        backlog_probe::export::text::escape(text)
    });
    // The mark of a measurement that contradicts the model, as the CLI's tables print it.
    env.add_global("disagree_mark", backlog_probe::export::DISAGREE_MARK);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    }
    env
}

/// Render the template `name` over `page`. The templates are part of this program, so a
/// template that does not render is a bug in it (the tests render every page with and without
/// reports): it panics with MiniJinja's description of where.
pub fn render<T: Serialize>(name: &str, page: &T) -> String {
    let env = environment();
    let template = env
        .get_template(name)
        .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    template
        .render(Serde(page))
        .unwrap_or_else(|e| panic!("template {name}: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template parses, and a name the page model does not have is an error, never an
    /// empty string on the page.
    #[test]
    fn templates_parse_and_undefined_names_fail() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        let template = env.template_from_str("{{ page.missing }}").expect("parses");
        let page = std::collections::BTreeMap::from([(
            "page",
            std::collections::BTreeMap::<String, u32>::new(),
        )]);
        assert!(template.render(Serde(&page)).is_err());
    }
}
