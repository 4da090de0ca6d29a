//! The table: one row per figure, REx next to the baseline.

use std::fmt::Write as _;

/// One figure of the table: REx and the baseline, measured the same way.
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) metric: String,
    pub(crate) unit: &'static str,
    pub(crate) rex: f64,
    pub(crate) baseline: f64,
    pub(crate) higher_is_better: bool,
    /// The target, in words, and whether this run met it.
    pub(crate) target: Option<(String, bool)>,
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
        self.target = Some((format!("{sign} {bound}×"), met));
        self
    }

    pub(crate) fn target_text(mut self, text: String, met: bool) -> Row {
        self.target = Some((text, met));
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

pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | metric | REx | baseline | REx/baseline | target |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|---|");
    for r in rows {
        let target = match &r.target {
            Some((t, true)) => format!("{t} met"),
            Some((t, false)) => format!("{t} **missed**"),
            None => String::new(),
        };
        let better = if r.higher_is_better { "↑" } else { "↓" };
        let _ = writeln!(
            out,
            "| {} | {} ({}) {better} | {} | {} | {} | {target} |",
            r.scenario,
            r.metric,
            r.unit,
            fmt_value(r.rex),
            fmt_value(r.baseline),
            fmt_value(r.ratio()),
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
