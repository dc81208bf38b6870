//! Doc comments as prose: the CRD descriptions come from the types' doc comments, whose lines are
//! wrapped at the source's width. `kubectl explain` prints them as they are, so a hard break in the
//! middle of a sentence shows up in the terminal. [`reflow`] joins the wrapped lines of each
//! paragraph and keeps the structure a writer meant: blank lines between paragraphs, list items,
//! indented lines and fenced code blocks.

use serde_json::Value;

/// One description with its wrapped lines joined.
///
/// - A blank line ends a paragraph (and is kept, as one blank line).
/// - A line starting with `-`, `*` or a number and `.` (`1.`) starts a list item; the lines after
///   it, up to the next item or paragraph break, continue that item.
/// - Lines indented after a blank line (Markdown's code blocks) and fenced blocks (```) are kept
///   as they are; an indented line right after prose continues it.
pub fn reflow(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    // Whether the last line of `out` is prose that the next plain line continues.
    let mut open = false;
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push(trimmed.to_string());
            open = false;
        } else if fenced || (trimmed.starts_with(char::is_whitespace) && !open) {
            // Code: inside a fence, or indented after a paragraph break (as in Markdown).
            out.push(trimmed.to_string());
        } else if trimmed.is_empty() {
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            open = false;
        } else if is_list_item(trimmed) || !open {
            out.push(trimmed.to_string());
            open = true;
        } else {
            // A wrapped line (indented or not) continues the paragraph or list item.
            let last = out.last_mut().expect("an open paragraph has a line");
            last.push(' ');
            last.push_str(trimmed.trim_start());
        }
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// `- x`, `* x`, `1. x` (any number): the start of a list item.
fn is_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") {
        return true;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && line[digits..].starts_with(". ")
}

/// Reflows every `description` string in a JSON document (a CRD's OpenAPI schema).
pub fn reflow_descriptions(value: &mut Value) {
    for_each_description(value, &mut |text| *text = reflow(text));
}

/// Calls `f` on every `description` string in a JSON document. A property that is itself named
/// `description` holds a schema object, not a string, and is walked like any other.
pub fn for_each_description(value: &mut Value, f: &mut impl FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(text) if key == "description" => f(text),
                    _ => for_each_description(child, f),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| for_each_description(item, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrapped_lines_of_a_paragraph_become_one_line() {
        let text = "ID of an existing cloud cluster to adopt instead of creating one. Its provider and\nserverless/dedicated shape must match this spec.\nImmutable.";
        assert_eq!(
            reflow(text),
            "ID of an existing cloud cluster to adopt instead of creating one. Its provider and serverless/dedicated shape must match this spec. Immutable."
        );
    }

    #[test]
    fn paragraph_breaks_are_kept_once() {
        assert_eq!(reflow("First\nparagraph.\n\n\nSecond\nparagraph.\n\n"), "First paragraph.\n\nSecond paragraph.");
    }

    #[test]
    fn list_items_stay_on_their_own_lines_and_absorb_their_continuations() {
        let text = "Policies:\n- `Delete` deletes the cloud\n  object.\n- `Retain` keeps\nit.\n* starred\n1. first\n12. twelfth item\nwrapped\nThe end.";
        // Continuations join their item, indented or not.
        assert_eq!(reflow(text), "Policies:\n- `Delete` deletes the cloud object.\n- `Retain` keeps it.\n* starred\n1. first\n12. twelfth item wrapped The end.");
    }

    #[test]
    fn a_list_after_a_paragraph_break_ends_with_the_next_paragraph() {
        assert_eq!(reflow("One of:\n\n- a\n- b\n\nThen\nmore."), "One of:\n\n- a\n- b\n\nThen more.");
    }

    #[test]
    fn fenced_and_indented_blocks_are_verbatim() {
        let text = "Example:\n```yaml\nkey: value\nother: 1\n```\nAfter\nit.\n\n    indented\n    code\n\nDone.";
        assert_eq!(reflow(text), "Example:\n```yaml\nkey: value\nother: 1\n```\nAfter it.\n\n    indented\n    code\n\nDone.");
    }

    #[test]
    fn not_list_markers() {
        // A hyphen or number inside a sentence, or without the space, does not start an item.
        assert_eq!(reflow("Between 1 and\n10.5 requests\n-5 is\nnegative"), "Between 1 and 10.5 requests -5 is negative");
        assert_eq!(reflow("single line"), "single line");
        assert_eq!(reflow(""), "");
    }

    #[test]
    fn every_description_string_in_a_schema_is_reflowed_and_nothing_else() {
        let mut schema = json!({
            "description": "Top\nlevel.",
            "properties": {
                "description": {"type": "string", "description": "A field named\ndescription."},
                "other": {"type": "string", "default": "keep\nthis", "description": "Other\nfield."},
                "list": {"items": {"description": "Item\nschema."}, "x-kubernetes-validations": [{"message": "a\nb", "rule": "true"}]}
            }
        });
        reflow_descriptions(&mut schema);
        assert_eq!(
            schema,
            json!({
                "description": "Top level.",
                "properties": {
                    "description": {"type": "string", "description": "A field named description."},
                    "other": {"type": "string", "default": "keep\nthis", "description": "Other field."},
                    "list": {"items": {"description": "Item schema."}, "x-kubernetes-validations": [{"message": "a\nb", "rule": "true"}]}
                }
            })
        );
    }
}
