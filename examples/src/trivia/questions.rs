//! The question file: loading and validation.
//!
//! A question file is a JSON array of objects, one per question:
//!
//! ```json
//! [
//!   {"question": "What is the capital of Australia?",
//!    "choices": ["Sydney", "Canberra", "Melbourne", "Perth"],
//!    "answer": 1}
//! ]
//! ```
//!
//! - `question`: the text, 1 to [`MAX_TEXT_CHARS`] characters;
//! - `choices`: [`MIN_CHOICES`] to [`MAX_CHOICES`] different, non-empty
//!   strings of at most [`MAX_CHOICE_CHARS`] characters;
//! - `answer`: the index of the correct choice, from 0.
//!
//! Any other field is an error (a misspelt `anwser` is reported, not
//! ignored), and so is a question that repeats an earlier one. Errors name
//! the entry by its number from 1, as a person counts:
//! `question 12: `answer` is 4 but there are only 4 choices (0–3)`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The bundled question set, `examples/trivia/questions.json`.
pub const BUNDLED_JSON: &str = include_str!("../../trivia/questions.json");

/// The longest question text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 300;
/// The longest choice accepted, in characters.
pub const MAX_CHOICE_CHARS: usize = 80;
/// The fewest choices a question may have.
pub const MIN_CHOICES: usize = 2;
/// The most choices a question may have.
pub const MAX_CHOICES: usize = 6;

/// One question, validated. (Serde only for the room's saved state; a
/// question file is read by [`parse`], which checks it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The question.
    pub text: String,
    /// The possible answers.
    pub choices: Vec<String>,
    /// The index of the correct answer in `choices`.
    pub answer: u32,
}

/// Why a question file cannot be used.
#[derive(Debug)]
pub enum QuestionsError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not JSON (the message has the line and column).
    Json(serde_json::Error),
    /// The file is JSON but not a list of questions.
    Shape(String),
    /// One entry is wrong.
    Entry {
        /// The entry's number, from 1.
        number: usize,
        /// What is wrong with it.
        problem: String,
    },
}

impl fmt::Display for QuestionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuestionsError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            QuestionsError::Json(e) => write!(f, "the question file is not valid JSON: {e}"),
            QuestionsError::Shape(problem) => f.write_str(problem),
            QuestionsError::Entry { number, problem } => write!(f, "question {number}: {problem}"),
        }
    }
}

impl std::error::Error for QuestionsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QuestionsError::Read { source, .. } => Some(source),
            QuestionsError::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// The bundled question set.
pub fn bundled() -> Result<Vec<Question>, QuestionsError> {
    parse(BUNDLED_JSON)
}

/// Reads and validates a question file.
pub fn load(path: &Path) -> Result<Vec<Question>, QuestionsError> {
    let text = std::fs::read_to_string(path).map_err(|source| QuestionsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text)
}

/// Validates the text of a question file.
pub fn parse(json: &str) -> Result<Vec<Question>, QuestionsError> {
    let value: Value = serde_json::from_str(json).map_err(QuestionsError::Json)?;
    let Value::Array(entries) = value else {
        return Err(QuestionsError::Shape(format!(
            "the question file must be a JSON array of questions, not {}",
            describe(&value)
        )));
    };
    if entries.is_empty() {
        return Err(QuestionsError::Shape(
            "the question file has no questions; add at least one".to_owned(),
        ));
    }
    let mut questions: Vec<Question> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let number = i + 1;
        let question =
            parse_entry(entry).map_err(|problem| QuestionsError::Entry { number, problem })?;
        if let Some(first) = questions.iter().position(|q| q.text == question.text) {
            return Err(QuestionsError::Entry {
                number,
                problem: format!("it repeats question {}", first + 1),
            });
        }
        questions.push(question);
    }
    Ok(questions)
}

fn parse_entry(entry: &Value) -> Result<Question, String> {
    let Value::Object(fields) = entry else {
        return Err(format!(
            "expected an object with `question`, `choices` and `answer`, found {}",
            describe(entry)
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "question" | "choices" | "answer"))
    {
        return Err(format!(
            "unknown field `{unknown}`; expected `question`, `choices` and `answer`"
        ));
    }

    let text = match fields.get("question") {
        None => return Err("missing field `question`".to_owned()),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => {
            return Err(format!(
                "`question` must be a string, not {}",
                describe(other)
            ))
        }
    };
    if text.is_empty() {
        return Err("`question` is empty".to_owned());
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!(
            "`question` is {chars} characters long; the limit is {MAX_TEXT_CHARS}"
        ));
    }

    let list = match fields.get("choices") {
        None => return Err("missing field `choices`".to_owned()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(format!(
                "`choices` must be a list of strings, not {}",
                describe(other)
            ))
        }
    };
    if !(MIN_CHOICES..=MAX_CHOICES).contains(&list.len()) {
        let entries = match list.len() {
            1 => "1 entry".to_owned(),
            n => format!("{n} entries"),
        };
        return Err(format!(
            "`choices` has {entries}; a question needs {MIN_CHOICES} to {MAX_CHOICES}"
        ));
    }
    let mut choices: Vec<String> = Vec::with_capacity(list.len());
    for (i, choice) in list.iter().enumerate() {
        let Value::String(choice) = choice else {
            return Err(format!(
                "choice {i} must be a string, not {}",
                describe(choice)
            ));
        };
        let choice = choice.trim().to_owned();
        if choice.is_empty() {
            return Err(format!("choice {i} is empty"));
        }
        let chars = choice.chars().count();
        if chars > MAX_CHOICE_CHARS {
            return Err(format!(
                "choice {i} is {chars} characters long; the limit is {MAX_CHOICE_CHARS}"
            ));
        }
        if let Some(j) = choices.iter().position(|c| c.eq_ignore_ascii_case(&choice)) {
            return Err(format!("choices {j} and {i} are the same (`{choice}`)"));
        }
        choices.push(choice);
    }

    let last = choices.len() - 1;
    let answer = match fields.get("answer") {
        None => return Err("missing field `answer`".to_owned()),
        Some(Value::Number(n)) => n.as_u64(),
        Some(other) => {
            return Err(format!(
                "`answer` must be the index of the correct choice (0–{last}), not {}",
                describe(other)
            ))
        }
    };
    let answer = match answer {
        Some(a) if a <= last as u64 => a,
        Some(a) => {
            return Err(format!(
                "`answer` is {a} but there are only {} choices (0–{last})",
                choices.len()
            ))
        }
        None => {
            return Err(format!(
                "`answer` must be a whole number from 0 to {last}, not {}",
                fields
                    .get("answer")
                    .map_or_else(String::new, Value::to_string)
            ))
        }
    };
    Ok(Question {
        text,
        choices,
        // At most MAX_CHOICES - 1, checked above.
        answer: answer as u32,
    })
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        match parse(json) {
            Ok(q) => panic!("expected an error, got {q:?}"),
            Err(e) => e.to_string(),
        }
    }

    const GOOD: &str = r#"{"question": "2 + 2?", "choices": ["3", "4", "5", "6"], "answer": 1}"#;

    #[test]
    fn the_bundled_set_is_valid_and_large_enough() {
        let questions = bundled().unwrap();
        assert!(questions.len() >= 40, "{} questions", questions.len());
        for q in &questions {
            assert_eq!(q.choices.len(), 4, "{}", q.text);
        }
        // The correct answers are spread over the four places, so that
        // "always press A" is not a strategy.
        for place in 0..4 {
            let n = questions.iter().filter(|q| q.answer == place).count();
            assert!(n >= 6, "only {n} answers at index {place}");
        }
    }

    #[test]
    fn a_good_entry_parses() {
        let questions = parse(&format!("[{GOOD}]")).unwrap();
        assert_eq!(
            questions,
            [Question {
                text: "2 + 2?".into(),
                choices: vec!["3".into(), "4".into(), "5".into(), "6".into()],
                answer: 1,
            }]
        );
    }

    #[test]
    fn errors_name_the_entry_and_the_problem() {
        let bad = |entry: &str| error_of(&format!("[{GOOD}, {GOOD2}, {entry}]"));
        const GOOD2: &str = r#"{"question": "3 + 3?", "choices": ["6", "7"], "answer": 0}"#;
        let cases = [
            (
                r#"{"question": "Q", "choices": ["a", "b", "c", "d"], "answer": 4}"#,
                "question 3: `answer` is 4 but there are only 4 choices (0–3)",
            ),
            (
                r#"{"question": "Q", "choices": ["a", "b"], "answer": -1}"#,
                "question 3: `answer` must be a whole number from 0 to 1, not -1",
            ),
            (
                r#"{"question": "Q", "choices": ["a", "b"], "answer": "a"}"#,
                "question 3: `answer` must be the index of the correct choice (0–1), not the string \"a\"",
            ),
            (
                r#"{"question": "Q", "choices": ["a", "b"]}"#,
                "question 3: missing field `answer`",
            ),
            (
                r#"{"question": "Q", "choices": ["a", "b"], "anwser": 1}"#,
                "question 3: unknown field `anwser`; expected `question`, `choices` and `answer`",
            ),
            (
                r#"{"question": " ", "choices": ["a", "b"], "answer": 0}"#,
                "question 3: `question` is empty",
            ),
            (
                r#"{"question": "Q", "choices": ["a"], "answer": 0}"#,
                "question 3: `choices` has 1 entry; a question needs 2 to 6",
            ),
            (
                r#"{"question": "Q", "choices": ["a", ""], "answer": 0}"#,
                "question 3: choice 1 is empty",
            ),
            (
                r#"{"question": "Q", "choices": ["a", 2], "answer": 0}"#,
                "question 3: choice 1 must be a string, not the number 2",
            ),
            (
                r#"{"question": "Q", "choices": ["Yes", "yes"], "answer": 0}"#,
                "question 3: choices 0 and 1 are the same (`yes`)",
            ),
            (
                r#"{"question": "2 + 2?", "choices": ["a", "b"], "answer": 0}"#,
                "question 3: it repeats question 1",
            ),
            (
                r#""what""#,
                "question 3: expected an object with `question`, `choices` and `answer`, found the string \"what\"",
            ),
        ];
        for (entry, expected) in cases {
            assert_eq!(bad(entry), expected, "for {entry}");
        }
    }

    #[test]
    fn file_level_errors() {
        assert_eq!(
            error_of("[]"),
            "the question file has no questions; add at least one"
        );
        assert_eq!(
            error_of(r#"{"questions": []}"#),
            "the question file must be a JSON array of questions, not an object"
        );
        let e = error_of("[{");
        assert!(
            e.starts_with("the question file is not valid JSON: "),
            "{e}"
        );
        assert!(e.contains("line 1"), "{e}");
        let e = load(Path::new("/nonexistent/questions.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read /nonexistent/questions.json: "),
            "{e}"
        );
    }
}
