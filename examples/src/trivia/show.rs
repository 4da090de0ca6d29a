//! How the game reads in a terminal: the pieces of text the server's
//! narrator (`examples/trivia/main.rs`) and the terminal player
//! ([`super::player`]) both print, so a choice is "B" on both screens.

use super::protocol::Standing;

/// The letter a choice is shown with: `A` for index 0. Past `Z` (a question
/// has at most six choices) it wraps rather than printing punctuation.
pub fn letter(index: usize) -> char {
    char::from(b'A' + (index % 26) as u8)
}

/// The choice a typed letter names, case-insensitively: `a` or `A` is 0.
pub fn index_of_letter(c: char) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    c.is_ascii_uppercase()
        .then(|| u32::from(c) - u32::from('A'))
}

/// One line with every choice and its letter: `A) red   B) green`.
pub fn choices_line(choices: &[String]) -> String {
    let parts: Vec<String> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}) {c}", letter(i)))
        .collect();
    parts.join("   ")
}

/// A choice with its letter, `B) green`, or just the letter when the
/// question did not have that many choices.
pub fn choice(choices: &[String], index: u32) -> String {
    let i = index as usize;
    match choices.get(i) {
        Some(text) => format!("{}) {text}", letter(i)),
        None => letter(i).to_string(),
    }
}

/// The letters a question with `n` choices accepts: `A–D`.
pub fn letter_range(n: usize) -> String {
    format!("A–{}", letter(n.max(1) - 1))
}

/// One line of a scoreboard: place, name, score, and the points gained on
/// the last question when there are some (`   2. Boris        1450  (+850)`).
pub fn standing_line(s: &Standing, gain: Option<u32>) -> String {
    let mut line = format!("{:>4}. {:<10} {:>5}", s.rank, s.name, s.score);
    if let Some(gain) = gain.filter(|g| *g > 0) {
        line.push_str(&format!("  (+{gain})"));
    }
    line
}

/// How many have answered so far, out of how many play: `(2/4)`. A player
/// who joined mid-question still counts, so the first never exceeds the
/// second.
pub fn answered_tally(answered: usize, players: usize) -> String {
    format!("({answered}/{})", players.max(answered))
}

/// How a question went: `1 of 4 right`, or `nobody answered`.
pub fn right_tally(right: u32, answered: u32) -> String {
    if answered == 0 {
        "nobody answered".to_owned()
    } else {
        format!("{right} of {answered} right")
    }
}

/// A place as people say it: `1st`, `2nd`, `3rd`, `4th`, `11th`, `22nd`.
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_go_both_ways() {
        assert_eq!(letter(0), 'A');
        assert_eq!(letter(3), 'D');
        for i in 0..6 {
            assert_eq!(index_of_letter(letter(i)), Some(i as u32));
            assert_eq!(
                index_of_letter(letter(i).to_ascii_lowercase()),
                Some(i as u32)
            );
        }
        assert_eq!(index_of_letter('1'), None);
        assert_eq!(index_of_letter('é'), None);
        assert_eq!(letter_range(4), "A–D");
    }

    #[test]
    fn tallies_read_well() {
        assert_eq!(answered_tally(1, 4), "(1/4)");
        assert_eq!(answered_tally(5, 4), "(5/5)");
        assert_eq!(right_tally(1, 4), "1 of 4 right");
        assert_eq!(right_tally(0, 3), "0 of 3 right");
        assert_eq!(right_tally(0, 0), "nobody answered");
    }

    #[test]
    fn choices_and_places_read_well() {
        let choices: Vec<String> = ["red", "green"].map(String::from).to_vec();
        assert_eq!(choices_line(&choices), "A) red   B) green");
        assert_eq!(choice(&choices, 1), "B) green");
        assert_eq!(choice(&choices, 4), "E");
        let places: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .map(ordinal)
            .to_vec();
        assert_eq!(
            places,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
