//! The parts of the suite and `--only a,b,...`, so one part can be measured
//! again without waiting for the others.
#![allow(dead_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Exec,
    Cli,
    Python,
    Stdout,
    Stdin,
    Flood,
    Scale,
    Tui,
}

impl Part {
    pub const ALL: [Part; 8] = [
        Part::Exec,
        Part::Cli,
        Part::Python,
        Part::Stdout,
        Part::Stdin,
        Part::Flood,
        Part::Scale,
        Part::Tui,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Exec => "exec",
            Part::Cli => "cli",
            Part::Python => "python",
            Part::Stdout => "stdout",
            Part::Stdin => "stdin",
            Part::Flood => "flood",
            Part::Scale => "scale",
            Part::Tui => "tui",
        }
    }
}

/// The parts a run measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts(Vec<Part>);

impl Parts {
    pub fn all() -> Parts {
        Parts(Part::ALL.to_vec())
    }

    pub fn has(&self, p: Part) -> bool {
        self.0.contains(&p)
    }

    pub fn names(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|p| p.name()).collect();
        names.join(",")
    }

    /// `exec,stdout`: comma-separated part names, any order, no repeats
    /// needed; an unknown name is an error that lists the known ones.
    pub fn parse(list: &str) -> Result<Parts, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let part = Part::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| format!("unknown part {name:?}; parts: {}", Parts::all().names()))?;
            if !out.contains(&part) {
                out.push(part);
            }
        }
        if out.is_empty() {
            return Err(format!(
                "--only needs at least one part: {}",
                Parts::all().names()
            ));
        }
        // Measured in the suite's own order, whatever order was given.
        out.sort_by_key(|p| Part::ALL.iter().position(|q| q == p));
        Ok(Parts(out))
    }

    /// The parts named by `--only LIST` or `--only=LIST` among the
    /// arguments; every part when there is none.
    pub fn from_args(args: &[String]) -> Result<Parts, String> {
        let mut found = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == "--only" {
                let list = it.next().ok_or("--only needs a list of parts")?;
                found = Some(Parts::parse(list)?);
            } else if let Some(list) = a.strip_prefix("--only=") {
                found = Some(Parts::parse(list)?);
            }
        }
        Ok(found.unwrap_or_else(Parts::all))
    }
}
