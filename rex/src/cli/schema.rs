//! What the `rex` tool does with an app's schema (`GET /rex/v0/schema`):
//! `rex types` writes TypeScript declarations from it, `rex info` lists the
//! kinds with their fields and docs, and `rex send` checks a payload against
//! it before sending, naming the field that is wrong.
//!
//! Payloads are checked by the `jsonschema` crate (draft 2020-12, formats
//! such as `uuid` asserted), built without remote fetching: a `$ref` to
//! anything but the document's own `$defs` is an error, never a request.

use std::path::PathBuf;

use jsonschema::error::ValidationErrorKind;
use jsonschema::ValidationError;
use rex_proto::schema::typescript_type;
use rex_proto::{KindSchema, ProtocolSchema};
use serde_json::Value;

use super::{visible, Console, Failure, BOLD, DIM, KIND};

/// `rex types`: the app's protocol as TypeScript declarations.
#[derive(Debug, clap::Args)]
pub(super) struct TypesArgs {
    /// The server's URL.
    url: String,
    /// Write the declarations to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Why a schema could not be had: the app publishes none.
fn no_schema(url: &str) -> Failure {
    Failure::Message(format!(
        "the app at {url} does not publish its protocol's schema (/rex/v0/schema answered \
         404); an app publishes it with `#[rex(schema)]` on its protocol enums"
    ))
}

pub(super) async fn types(console: &mut Console<'_>, args: TypesArgs) -> Result<(), Failure> {
    let client = super::reader(&args.url).await?;
    let schema = client.schema().await?.ok_or_else(|| no_schema(&args.url))?;
    if console.json {
        let value = serde_json::to_value(&schema).map_err(|e| Failure::Message(e.to_string()))?;
        return console.json_line(&value);
    }
    let text = schema.typescript();
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| Failure::Message(format!("cannot write {}: {e}", path.display())))?;
            writeln!(
                console.err,
                "rex: wrote the `{}` app's types to {}",
                visible::visible(&schema.app),
                path.display()
            )?;
        }
        None => console.out.write_all(text.as_bytes())?,
    }
    Ok(())
}

/// The kinds of `rex info`, each with its doc and fields:
///
/// ```text
///   messages
///     say  Say something to the whole room.
///       text: string  What to say; must not be empty.
/// ```
pub(super) fn print_kinds(
    console: &mut Console<'_>,
    schema: &ProtocolSchema,
) -> Result<(), Failure> {
    for (title, kinds) in [("messages", &schema.messages), ("events", &schema.events)] {
        writeln!(console.out, "  {}", console.paint(BOLD, title))?;
        for kind in kinds {
            print_kind(console, kind)?;
        }
    }
    if let Some(snapshot) = &schema.snapshot {
        let ty = one_line(&typescript_type(snapshot));
        writeln!(
            console.out,
            "  {}  {}",
            console.paint(BOLD, "snapshot"),
            visible::visible(&ty)
        )?;
    }
    Ok(())
}

fn print_kind(console: &mut Console<'_>, kind: &KindSchema) -> Result<(), Failure> {
    let doc = kind
        .description
        .as_deref()
        .map(one_line)
        .unwrap_or_default();
    writeln!(
        console.out,
        "    {}  {}",
        console.paint(KIND, &kind.kind),
        console.paint(DIM, doc)
    )?;
    let fields = kind.fields();
    if fields.is_empty() {
        let what = if kind.is_unit() {
            "(no data)".to_owned()
        } else {
            format!("data: {}", one_line(&typescript_type(&kind.data)))
        };
        writeln!(console.out, "      {}", visible::visible(&what))?;
    }
    for field in fields {
        let optional = if field.required { "" } else { "?" };
        let line = format!("{}{optional}: {}", field.name, one_line(&field.ty));
        let doc = field
            .description
            .as_deref()
            .map(one_line)
            .unwrap_or_default();
        writeln!(
            console.out,
            "      {}  {}",
            visible::visible(&line),
            console.paint(DIM, doc)
        )?;
    }
    Ok(())
}

/// Text on one line: runs of whitespace (newlines too) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why `rex send` did not send: the code the server would have answered
/// (`unknown_kind`, `invalid_data`), or `schema` when the schema itself is
/// unusable, and what to fix.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refused {
    pub(super) code: &'static str,
    pub(super) reason: String,
}

fn refused(code: &'static str, reason: String) -> Refused {
    Refused { code, reason }
}

/// Checks `rex send`'s payload for message kind `kind` against the schema:
/// a kind the app does not have, a payload for a kind that carries none,
/// and every field that does not fit, each named. The reason says what to
/// fix.
pub(super) fn check(
    schema: &ProtocolSchema,
    kind: &str,
    data: Option<&Value>,
) -> Result<(), Refused> {
    let Some(entry) = schema.message(kind) else {
        let kinds: Vec<&str> = schema.messages.iter().map(|k| k.kind.as_str()).collect();
        return Err(refused(
            "unknown_kind",
            format!(
                "the `{}` app has no message kind `{kind}`; expected one of: {} (not sent)",
                schema.app,
                kinds.join(", ")
            ),
        ));
    };
    let data = data.cloned().unwrap_or(Value::Null);
    if entry.is_unit() && !data.is_null() {
        return Err(refused(
            "invalid_data",
            format!("`{kind}` carries no data; leave the payload out (not sent)"),
        ));
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema.standalone(&entry.data))
        .map_err(|e| {
            refused(
                "schema",
                format!(
                    "the server's schema of `{kind}` cannot be used to check the payload \
                     ({e}); add --no-check to let the server judge it"
                ),
            )
        })?;
    let problems: Vec<String> = validator
        .iter_errors(&data)
        .map(|error| describe(&error, entry))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(refused(
        "invalid_data",
        format!(
            "the payload does not fit `{kind}`: {} (not sent; `rex info URL` lists the fields)",
            problems.join("; ")
        ),
    ))
}

/// One validation error as a person reads it, naming the field.
fn describe(error: &ValidationError<'_>, entry: &KindSchema) -> String {
    let at = field_path(error.instance_path().as_str());
    let within = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            format!("missing field `{}`", within(&name))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected
                .iter()
                .map(|n| format!("`{}`", within(n)))
                .collect();
            let known: Vec<String> = if at.is_empty() {
                entry.fields().into_iter().map(|f| f.name).collect()
            } else {
                Vec::new()
            };
            let plural = if names.len() == 1 { "" } else { "s" };
            if known.is_empty() {
                format!("unknown field{plural} {}", names.join(", "))
            } else {
                format!(
                    "unknown field{plural} {}; expected only: {}",
                    names.join(", "),
                    known.join(", ")
                )
            }
        }
        _ if at.is_empty() => format!("the payload: {error}"),
        _ => format!("field `{at}`: {error}"),
    }
}

/// A JSON pointer (`/standings/0/name`) as a field path
/// (`standings[0].name`); empty for the whole payload.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat() -> ProtocolSchema {
        serde_json::from_value(json!({
            "$schema": rex_proto::schema::DIALECT,
            "app": "chat", "protocol": 0,
            "messages": [
                {"kind": "say", "data": {"type": "object",
                    "properties": {"text": {"type": "string"}, "to": {"type": "string", "format": "uuid"},
                                   "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}}},
                    "required": ["text"], "additionalProperties": false}},
                {"kind": "leave", "data": {"type": "null"}}
            ],
            "events": [],
            "$defs": {"Tag": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
        }))
        .unwrap()
    }

    #[test]
    fn a_fitting_payload_passes() {
        let schema = chat();
        assert_eq!(check(&schema, "say", Some(&json!({"text": "hi"}))), Ok(()));
        assert_eq!(check(&schema, "leave", None), Ok(()));
        assert_eq!(check(&schema, "leave", Some(&Value::Null)), Ok(()));
    }

    #[test]
    fn every_mistake_names_its_field() {
        let schema = chat();
        let err = check(&schema, "say", Some(&json!({"text": 5})))
            .unwrap_err()
            .reason;
        assert!(
            err.contains("field `text`: 5 is not of type \"string\""),
            "{err}"
        );
        let err = check(&schema, "say", Some(&json!({}))).unwrap_err().reason;
        assert!(err.contains("missing field `text`"), "{err}");
        let err = check(&schema, "say", Some(&json!({"text": "hi", "txt": 1})))
            .unwrap_err()
            .reason;
        assert!(
            err.contains("unknown field `txt`; expected only: tags, text, to"),
            "{err}"
        );
        let err = check(&schema, "say", Some(&json!({"text": "hi", "to": "bob"})))
            .unwrap_err()
            .reason;
        assert!(err.contains("field `to`"), "{err}");
        let err = check(
            &schema,
            "say",
            Some(&json!({"text": "hi", "tags": [{"name": "a"}, {}]})),
        )
        .unwrap_err()
        .reason;
        assert!(err.contains("missing field `tags[1].name`"), "{err}");
        let err = check(&schema, "say", None).unwrap_err().reason;
        assert!(
            err.contains("the payload: null is not of type \"object\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_kinds_and_data_for_unit_kinds_are_refused() {
        let schema = chat();
        let refusal = check(&schema, "yell", None).unwrap_err();
        assert_eq!(refusal.code, "unknown_kind");
        let err = refusal.reason;
        assert!(
            err.contains("no message kind `yell`; expected one of: say, leave"),
            "{err}"
        );
        let err = check(&schema, "leave", Some(&json!({})))
            .unwrap_err()
            .reason;
        assert!(err.contains("`leave` carries no data"), "{err}");
    }

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(field_path(""), "");
        assert_eq!(field_path("/text"), "text");
        assert_eq!(field_path("/standings/0/name"), "standings[0].name");
        assert_eq!(field_path("/a~1b"), "a/b");
    }
}
