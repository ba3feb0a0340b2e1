//! Prose lines of a generated Markdown page wrapped at a width, so the page reads in a terminal
//! and diffs by sentence part. Tables, code blocks, headings and HTML lines keep their lines; a
//! list item's continuation lines are indented under its text; a line never starts with what
//! Markdown would read as a new block (a list marker, a heading, a quote, a table row).

/// `page` with every prose line longer than `width` characters wrapped at spaces.
pub fn prose(page: &str, width: usize) -> String {
    let mut out = String::with_capacity(page.len() + page.len() / 16);
    let mut in_code = false;
    for line in page.split_inclusive('\n') {
        let (text, newline) = match line.strip_suffix('\n') {
            Some(text) => (text, "\n"),
            None => (line, ""),
        };
        if text.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code
            || text.trim_start().starts_with("```")
            || !wraps(text)
            || text.chars().count() <= width
        {
            out.push_str(line);
            continue;
        }
        let lead = text.len() - text.trim_start().len();
        let indent = continuation_indent(text);
        // Lines as lists of words; a line's width is its indent plus its words and spaces.
        let mut lines: Vec<Vec<&str>> = vec![Vec::new()];
        let width_of = |words: &[&str], first: bool| {
            let start = if first { lead } else { indent };
            start
                + words.iter().map(|w| w.chars().count()).sum::<usize>()
                + words.len().saturating_sub(1)
        };
        for word in words_of(&text[lead..]) {
            let last = lines.len() - 1;
            let first = last == 0;
            let mut candidate = lines[last].clone();
            candidate.push(word);
            if lines[last].is_empty() || width_of(&candidate, first) <= width {
                lines[last].push(word);
            } else if !starts_block(word) {
                lines.push(vec![word]);
            } else if lines[last].len() > 1 && !starts_block(lines[last][lines[last].len() - 1]) {
                // The word may not begin a line: the word before it moves down with it.
                let moved = lines[last].pop().unwrap_or_default();
                lines.push(vec![moved, word]);
            } else {
                lines[last].push(word);
            }
        }
        for (i, words) in lines.iter().enumerate() {
            if i == 0 {
                out.push_str(&text[..lead]);
            } else {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(&words.join(" "));
        }
        out.push_str(newline);
    }
    out
}

/// The words of a line, split at spaces but never inside an HTML tag (`<a id="x">`).
fn words_of(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_tag = false;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '<' if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/') =>
            {
                in_tag = true;
            }
            '>' => in_tag = false,
            ' ' if !in_tag => {
                words.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    words.push(&text[start..]);
    words
}

/// Whether a line is prose that may be wrapped.
fn wraps(text: &str) -> bool {
    let trimmed = text.trim_start();
    !(trimmed.is_empty()
        || trimmed.starts_with('|')
        || trimmed.starts_with('#')
        || (trimmed.starts_with('<') && !trimmed.starts_with("<a id=")))
}

/// How far a continuation line is indented: under the text of a list item, else as the line.
fn continuation_indent(text: &str) -> usize {
    let lead = text.len() - text.trim_start().len();
    let rest = &text[lead..];
    if rest.starts_with("- ") || rest.starts_with("* ") {
        return lead + 2;
    }
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && rest[digits..].starts_with(". ") {
        return lead + digits + 2;
    }
    lead
}

/// Whether a word at the start of a line would begin a Markdown block instead of continuing
/// the paragraph.
fn starts_block(word: &str) -> bool {
    matches!(word, "-" | "*" | "+" | ">" | "|" | "=" | "")
        || (word.len() <= 6 && word.chars().all(|c| c == '#'))
        || word.starts_with("---")
        || word.starts_with("===")
        || word.starts_with('>')
        || word.starts_with('|')
        || {
            let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            digits > 0 && digits < word.len() && matches!(&word[digits..], "." | ")")
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_prose_wraps_and_short_lines_stay() {
        let text = "one two three four five six seven eight nine ten\nshort\n";
        let wrapped = prose(text, 20);
        assert_eq!(
            wrapped,
            "one two three four\nfive six seven eight\nnine ten\nshort\n"
        );
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 20, "{line}");
        }
    }

    #[test]
    fn list_items_continue_under_their_text() {
        let wrapped = prose("- alpha beta gamma delta epsilon\n", 16);
        assert_eq!(wrapped, "- alpha beta\n  gamma delta\n  epsilon\n");
        let numbered = prose("10. alpha beta gamma delta\n", 14);
        assert_eq!(numbered, "10. alpha beta\n    gamma\n    delta\n");
    }

    #[test]
    fn tables_code_and_headings_keep_their_lines() {
        let text = "| a very long table row that goes on | and on |\n```sh\na very long command line that goes on and on\n```\n## a very long heading that goes on and on\n";
        assert_eq!(prose(text, 10), text);
    }

    #[test]
    fn no_line_starts_a_new_block() {
        let wrapped = prose("values 1 - 2 and 3. then # and > and 5. too #42 ok\n", 8);
        for line in wrapped.lines().skip(1) {
            let first = line.split(' ').next().unwrap();
            assert!(!starts_block(first), "{line:?} in {wrapped:?}");
        }
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            "values 1 - 2 and 3. then # and > and 5. too #42 ok"
                .split_whitespace()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_word_longer_than_the_width_stays_whole() {
        let url = "https://example.org/a/very/long/path/that/does/not/fit";
        let wrapped = prose(&format!("see {url} here\n"), 20);
        assert_eq!(wrapped, format!("see\n{url}\nhere\n"));
    }

    #[test]
    fn a_word_that_may_not_begin_a_line_takes_the_word_before_with_it() {
        let wrapped = prose("aaaa bbbb = cccc\n", 10);
        assert_eq!(wrapped, "aaaa\nbbbb =\ncccc\n");
        let numbered = prose("see bug (bug 8330940) here\n", 12);
        assert!(
            numbered
                .lines()
                .skip(1)
                .all(|l| !starts_block(l.split(' ').next().unwrap())),
            "{numbered}"
        );
    }

    #[test]
    fn an_html_tag_stays_on_one_line() {
        let wrapped = prose(
            "- word word <a id=\"windows-overflow\"></a>**Windows**: text\n",
            14,
        );
        assert!(
            wrapped.contains("<a id=\"windows-overflow\"></a>"),
            "{wrapped}"
        );
        assert_eq!(
            words_of("a <a id=\"x\"></a>b c"),
            ["a", "<a id=\"x\"></a>b", "c"]
        );
        assert_eq!(
            words_of("1 < 2 and 3 > 2"),
            ["1", "<", "2", "and", "3", ">", "2"]
        );
    }

    #[test]
    fn an_issue_number_may_start_a_line_but_a_heading_may_not() {
        assert!(!starts_block("#4056](https://example.org)"));
        assert!(starts_block("#") && starts_block("###"));
    }
}
