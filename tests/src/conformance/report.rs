//! Results: one row per case, a summary, and the pass/fail decision of a profile.

use std::time::Duration;

/// The verdict on one case, named as the reference suite names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The implementation did exactly what the RFC requires.
    Ok,
    /// Allowed by the reference as an alternative, but not strict (for example invalid
    /// UTF-8 noticed only at the end of a frame or message). A failure of the strict profile.
    NonStrict,
    /// Wrong behaviour: wrong or missing messages, no or wrong close, a protocol violation,
    /// a hang.
    Failed,
    /// The RFC leaves the behaviour open; recorded, not judged.
    Informational,
    /// The case needs an extension the implementation declined or did not offer
    /// (permessage-deflate, sections 12-13). Not a failure unless compression is required
    /// ([`Report::passed_requiring_compression`]).
    Unimplemented,
}

impl Outcome {
    /// The label used in the table.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::NonStrict => "NON-STRICT",
            Outcome::Failed => "FAILED",
            Outcome::Informational => "INFORMATIONAL",
            Outcome::Unimplemented => "UNIMPLEMENTED",
        }
    }
    /// Whether this outcome fails a run. The strict profile fails on NON-STRICT too;
    /// UNIMPLEMENTED (an optional extension declined) is reported but never fails a run here
    /// (see [`Outcome::is_failure_requiring_compression`]).
    pub fn is_failure(self, strict: bool) -> bool {
        match self {
            Outcome::Failed => true,
            Outcome::NonStrict => strict,
            Outcome::Ok | Outcome::Informational | Outcome::Unimplemented => false,
        }
    }
    /// Like [`Outcome::is_failure`]; with `require_compression` UNIMPLEMENTED fails too
    /// (`ws-conformance --require-compression`).
    pub fn is_failure_requiring_compression(self, strict: bool, require_compression: bool) -> bool {
        self.is_failure(strict) || (require_compression && self == Outcome::Unimplemented)
    }
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.label())
    }
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Case number.
    pub id: String,
    /// What the case does.
    pub description: String,
    /// The verdict.
    pub outcome: Outcome,
    /// How the connection ended: who closed first, the peer's close code (`-` for a close
    /// frame without code, `none` for no close frame) and `clean`/`unclean`/`dropped`.
    pub close: String,
    /// How long the case took.
    pub elapsed: Duration,
    /// A section 9 case (its time is a measurement).
    pub performance: bool,
    /// Why the verdict is what it is.
    pub notes: Vec<String>,
}

impl CaseResult {
    pub(crate) fn broken(case: &super::cases::Case, why: String) -> CaseResult {
        CaseResult::failed(&case.id, &case.description, why)
    }
    pub(crate) fn failed(id: &str, description: &str, why: String) -> CaseResult {
        CaseResult {
            id: id.to_string(),
            description: description.to_string(),
            outcome: Outcome::Failed,
            close: "-".into(),
            elapsed: Duration::ZERO,
            performance: false,
            notes: vec![why],
        }
    }
}

/// The results of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// What was tested (URL, or agent name for a client).
    pub target: String,
    /// One result per case, in table order.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// The result of case `id`.
    pub fn get(&self, id: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.id == id)
    }
    /// The outcome of case `id`.
    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        self.get(id).map(|r| r.outcome)
    }
    /// Ids of the cases with `outcome`.
    pub fn ids_with(&self, outcome: Outcome) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.id.as_str())
            .collect()
    }
    /// Number of cases with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }
    /// Cases that fail the run under the strict (`true`) or lenient profile.
    pub fn failures(&self, strict: bool) -> Vec<&CaseResult> {
        self.results
            .iter()
            .filter(|r| r.outcome.is_failure(strict))
            .collect()
    }
    /// Whether the run passes: no failure under the chosen profile and at least one case.
    /// UNIMPLEMENTED cases do not fail it.
    pub fn passed(&self, strict: bool) -> bool {
        !self.results.is_empty() && self.failures(strict).is_empty()
    }
    /// Cases that fail the run; with `require_compression`, UNIMPLEMENTED ones too.
    pub fn failures_requiring_compression(
        &self,
        strict: bool,
        require_compression: bool,
    ) -> Vec<&CaseResult> {
        self.results
            .iter()
            .filter(|r| {
                r.outcome
                    .is_failure_requiring_compression(strict, require_compression)
            })
            .collect()
    }
    /// Whether the run passes when UNIMPLEMENTED (permessage-deflate declined) counts as a
    /// failure.
    pub fn passed_requiring_compression(&self, strict: bool) -> bool {
        !self.results.is_empty() && self.failures_requiring_compression(strict, true).is_empty()
    }
    /// One line: counts per outcome.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} cases: {} OK, {} NON-STRICT, {} FAILED, {} INFORMATIONAL, {} UNIMPLEMENTED",
            self.target,
            self.results.len(),
            self.count(Outcome::Ok),
            self.count(Outcome::NonStrict),
            self.count(Outcome::Failed),
            self.count(Outcome::Informational),
            self.count(Outcome::Unimplemented),
        )
    }
    /// Counts per outcome for each section, one line per section in table order, e.g.
    /// `12: 90 cases: 90 OK` (outcomes with no case are left out).
    pub fn section_summary(&self) -> String {
        let mut sections: Vec<(&str, Vec<Outcome>)> = Vec::new();
        for r in &self.results {
            let s = r.id.split('.').next().unwrap_or("");
            match sections.last_mut() {
                Some((last, v)) if *last == s => v.push(r.outcome),
                _ => sections.push((s, vec![r.outcome])),
            }
        }
        let mut out = String::new();
        for (s, v) in sections {
            let counts: Vec<String> = [
                Outcome::Ok,
                Outcome::NonStrict,
                Outcome::Failed,
                Outcome::Informational,
                Outcome::Unimplemented,
            ]
            .into_iter()
            .filter_map(|o| {
                let n = v.iter().filter(|x| **x == o).count();
                (n > 0).then(|| format!("{n} {}", o.label()))
            })
            .collect();
            out.push_str(&format!(
                "{s:>3}: {} cases: {}\n",
                v.len(),
                counts.join(", ")
            ));
        }
        out
    }
    /// The report as JSON: `{"target": .., "results": [{"id", "outcome", "close",
    /// "millis", "description", "notes"}, ..]}`.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"target\": {}, \"results\": [",
            json_string(&self.target)
        );
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let notes: Vec<String> = r.notes.iter().map(|n| json_string(n)).collect();
            out.push_str(&format!(
                "\n  {{\"id\": {}, \"outcome\": \"{}\", \"close\": {}, \"millis\": {:.3}, \
                 \"description\": {}, \"notes\": [{}]}}",
                json_string(&r.id),
                r.outcome.label(),
                json_string(&r.close),
                r.elapsed.as_secs_f64() * 1000.0,
                json_string(&r.description),
                notes.join(", ")
            ));
        }
        out.push_str("\n]}\n");
        out
    }
    /// A table row for one result.
    pub fn row(r: &CaseResult) -> String {
        let mut line = format!(
            "{:<8} {:<13} {:<20} {:>8.1} ms  {}",
            r.id,
            r.outcome.label(),
            r.close,
            r.elapsed.as_secs_f64() * 1000.0,
            r.description
        );
        if r.outcome != Outcome::Ok {
            for n in &r.notes {
                line.push_str("\n         -> ");
                line.push_str(n);
            }
        }
        line
    }
    /// The table header.
    pub fn header() -> String {
        format!(
            "{:<8} {:<13} {:<20} {:>11}  description",
            "case", "outcome", "close", "time"
        )
    }
}

impl core::fmt::Display for Report {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "{}", Report::header())?;
        for r in &self.results {
            writeln!(f, "{}", Report::row(r))?;
        }
        writeln!(f, "{}", self.summary())
    }
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_profiles() {
        let mut ok = CaseResult::failed("1.1.1", "a \"quoted\" one", "x".into());
        ok.outcome = Outcome::Ok;
        let mut ns = CaseResult::failed("6.4.3", "d", "late\n".into());
        ns.outcome = Outcome::NonStrict;
        let r = Report {
            target: "t".into(),
            results: vec![ok, ns],
        };
        assert!(!r.passed(true) && r.passed(false));
        assert_eq!(r.ids_with(Outcome::NonStrict), ["6.4.3"]);
        let j = r.to_json();
        assert!(j.starts_with(r#"{"target": "t", "results": ["#), "{j}");
        assert!(j.contains(r#""id": "1.1.1", "outcome": "OK""#), "{j}");
        assert!(j.contains(r#""description": "a \"quoted\" one""#), "{j}");
        assert!(j.contains(r#""notes": ["late\u000a"]"#), "{j}");
        assert!(!Report::default().passed(false));
        let mut un = CaseResult::failed("12.1.1", "d", "declined".into());
        un.outcome = Outcome::Unimplemented;
        let r = Report {
            target: "t".into(),
            results: vec![un],
        };
        assert!(r.passed(true) && r.passed(false));
        assert!(!r.passed_requiring_compression(false));
        assert_eq!(r.failures_requiring_compression(true, true).len(), 1);
        assert_eq!(r.section_summary(), " 12: 1 cases: 1 UNIMPLEMENTED\n");
    }
}
