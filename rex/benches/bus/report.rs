//! The tables: one row per figure, REx next to the baseline (or, in the
//! durable table, REx on disk next to REx in memory).

use std::fmt::Write as _;

/// One figure of the table: REx and the baseline, measured the same way
/// (in the durable table: `rex` is on disk, `baseline` in memory).
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) metric: String,
    pub(crate) unit: &'static str,
    pub(crate) rex: f64,
    pub(crate) baseline: f64,
    pub(crate) higher_is_better: bool,
    /// The target, in words, and whether this run met it (`None`:
    /// not checked, e.g. a quick run too small for it).
    pub(crate) target: Option<(String, Option<bool>)>,
}

impl Row {
    pub(crate) fn new(scenario: &str, metric: &str, unit: &'static str, values: [f64; 2]) -> Row {
        Row {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            unit,
            rex: values[0],
            baseline: values[1],
            higher_is_better: true,
            target: None,
        }
    }

    pub(crate) fn lower_is_better(mut self) -> Row {
        self.higher_is_better = false;
        self
    }

    pub(crate) fn ratio(&self) -> f64 {
        if self.baseline == 0.0 {
            f64::NAN
        } else {
            self.rex / self.baseline
        }
    }

    /// Target: REx/baseline at least (higher is better) or at most `bound`.
    pub(crate) fn target_ratio(mut self, bound: f64) -> Row {
        let ratio = self.ratio();
        let met = if self.higher_is_better {
            ratio >= bound
        } else {
            ratio <= bound
        };
        let sign = if self.higher_is_better { "≥" } else { "≤" };
        self.target = Some((format!("{sign} {bound}×"), Some(met)));
        self
    }

    pub(crate) fn target_text(mut self, text: String, met: bool) -> Row {
        self.target = Some((text, Some(met)));
        self
    }

    /// A target this run does not check (it is for a bigger size).
    pub(crate) fn target_unchecked(mut self, text: String) -> Row {
        self.target = Some((text, None));
        self
    }
}

pub(crate) fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let a = v.abs();
    if a >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub(crate) fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

pub(crate) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// A row's target column: the target and whether it was met.
pub(crate) fn target_cell(r: &Row) -> String {
    match &r.target {
        Some((t, Some(true))) => format!("{t} met"),
        Some((t, Some(false))) => format!("{t} **missed**"),
        Some((t, None)) => format!("{t} (not checked)"),
        None => String::new(),
    }
}

/// The rows as a Markdown table; `names` head the two value columns
/// (`["REx", "baseline"]`, or `["disk", "memory"]`).
pub(crate) fn render(rows: &[Row], names: [&str; 2]) -> String {
    let mut out = String::new();
    let [a, b] = names;
    let _ = writeln!(out, "| scenario | metric | {a} | {b} | {a}/{b} | target |");
    let _ = writeln!(out, "|---|---|--:|--:|--:|---|");
    for r in rows {
        let target = target_cell(r);
        let better = if r.higher_is_better { "↑" } else { "↓" };
        let unit = if r.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.unit)
        };
        let _ = writeln!(
            out,
            "| {} | {}{unit} {better} | {} | {} | {} | {target} |",
            r.scenario,
            r.metric,
            fmt_value(r.rex),
            fmt_value(r.baseline),
            fmt_value(r.ratio()),
        );
    }
    out
}

/// One line per row with a target: PASS, MISS or not checked, the figure
/// and the target.
pub(crate) fn targets(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let Some((target, met)) = &r.target else {
            continue;
        };
        let verdict = match met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a ",
        };
        let figure = if r.baseline.is_finite() {
            format!(
                "{} vs {} {} ({}×)",
                fmt_value(r.rex),
                fmt_value(r.baseline),
                r.unit,
                fmt_value(r.ratio())
            )
        } else {
            format!("{} {}", fmt_value(r.rex), r.unit)
        };
        let _ = writeln!(
            out,
            "{verdict} {}: {}: {figure}; target {target}",
            r.scenario, r.metric
        );
    }
    out
}

/// `[rex, baseline]` of something computed the same way for both.
pub(crate) trait Each<T> {
    fn each(&self, f: impl Fn(&T) -> f64) -> [f64; 2];
}

impl<T> Each<T> for [T; 2] {
    fn each(&self, f: impl Fn(&T) -> f64) -> [f64; 2] {
        [f(&self[0]), f(&self[1])]
    }
}
