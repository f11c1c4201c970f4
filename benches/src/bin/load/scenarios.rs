//! What the load benchmark sends: the scenarios, and their pre-built random requests.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::*;

#[derive(Clone, Copy)]
pub(crate) enum Body {
    None,
    /// `{"flag", "context": {"user_id", "market"}}`
    Evaluate,
    /// `{"context": {"user_id", "market"}}`
    Context,
    /// `{"context": {"targetingKey", "market"}}`
    Ofrep,
}

/// One scenario: what is sent, to a store seeded with `flags` flags.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) flags: usize,
    pub(crate) method: &'static str,
    /// The path; `{flag}` stands for a random flag's key.
    pub(crate) path: &'static str,
    pub(crate) body: Body,
    /// Send `If-None-Match` with the snapshot's current ETag.
    pub(crate) conditional: bool,
    /// Run a writer at 10 writes/s alongside.
    pub(crate) write_storm: bool,
}

pub(crate) fn scenarios() -> Vec<Scenario> {
    let s = |name, flags, method, path, body| Scenario {
        name,
        flags,
        method,
        path,
        body,
        conditional: false,
        write_storm: false,
    };
    vec![
        s(
            "POST /v1/evaluate",
            1000,
            "POST",
            "/v1/evaluate",
            Body::Evaluate,
        ),
        s(
            "OFREP single",
            1000,
            "POST",
            "/ofrep/v1/evaluate/flags/{flag}",
            Body::Ofrep,
        ),
        Scenario {
            write_storm: true,
            ..s(
                "POST /v1/evaluate + 10 writes/s",
                1000,
                "POST",
                "/v1/evaluate",
                Body::Evaluate,
            )
        },
        Scenario {
            conditional: true,
            ..s(
                "GET /v1/snapshot, If-None-Match (304)",
                1000,
                "GET",
                "/v1/snapshot",
                Body::None,
            )
        },
        s(
            "OFREP bulk, 100 flags",
            100,
            "POST",
            "/ofrep/v1/evaluate/flags",
            Body::Ofrep,
        ),
        s(
            "POST /v1/evaluate/bulk, 100 flags",
            100,
            "POST",
            "/v1/evaluate/bulk",
            Body::Context,
        ),
    ]
}

/// A scenario's requests, written once and sent by both generators to both servers: line `i`
/// of `paths` and of `bodies` make request `i`, each with a random flag, user (1 of
/// 1,000,000) and market.
pub(crate) struct Requests {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) method: &'static str,
    pub(crate) paths: PathBuf,
    pub(crate) bodies: Option<PathBuf>,
    /// The path when every request has the same one.
    pub(crate) fixed_path: Option<&'static str>,
    /// The `If-None-Match` value sent, if any.
    pub(crate) etag: Option<String>,
    pub(crate) first: (String, Option<String>),
}

impl Requests {
    pub(crate) fn write(
        scenario: &Scenario,
        flags: usize,
        count: usize,
        etag: Option<String>,
    ) -> anyhow::Result<Requests> {
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut paths, mut bodies) = (String::new(), String::new());
        let mut first = None;
        for _ in 0..count {
            let flag = flag_key(rng.usize(..flags));
            let user = format!("user-{}", rng.u32(1..=1_000_000));
            let market = MARKETS[rng.usize(..MARKETS.len())];
            let path = scenario.path.replace("{flag}", &flag);
            let body = match scenario.body {
                Body::None => None,
                Body::Evaluate => {
                    Some(json!({"flag": flag, "context": {"user_id": user, "market": market}}))
                }
                Body::Context => Some(json!({"context": {"user_id": user, "market": market}})),
                Body::Ofrep => Some(json!({"context": {"targetingKey": user, "market": market}})),
            }
            .map(|b| b.to_string());
            writeln!(paths, "{path}")?;
            if let Some(body) = &body {
                writeln!(bodies, "{body}")?;
            }
            first.get_or_insert((path, body));
        }
        let dir = tempfile::tempdir()?;
        let paths_file = dir.path().join("paths");
        std::fs::write(&paths_file, paths)?;
        let bodies_file = match scenario.body {
            Body::None => None,
            _ => {
                let file = dir.path().join("bodies");
                std::fs::write(&file, bodies)?;
                Some(file)
            }
        };
        Ok(Requests {
            dir,
            method: scenario.method,
            paths: paths_file,
            bodies: bodies_file,
            fixed_path: (!scenario.path.contains("{flag}")).then_some(scenario.path),
            etag,
            first: first.context("no requests")?,
        })
    }

    /// The wrk script: reads the requests once, then sends a random one each time.
    pub(crate) fn wrk_script(&self) -> anyhow::Result<PathBuf> {
        let mut script = format!(
            "wrk.method = \"{}\"\nwrk.headers[\"Authorization\"] = \"Bearer {SDK}\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n",
            self.method
        );
        if let Some(tag) = &self.etag {
            writeln!(script, "wrk.headers[\"If-None-Match\"] = [[{tag}]]")?;
        }
        let bodies = match &self.bodies {
            Some(file) => format!("[[{}]]", file.display()),
            None => "nil".into(),
        };
        write!(
            script,
            r#"local requests = {{}}
init = function(args)
  local bodies = {{}}
  if {bodies} then for line in io.lines({bodies}) do bodies[#bodies + 1] = line end end
  for line in io.lines([[{paths}]]) do
    requests[#requests + 1] = wrk.format(nil, line, nil, bodies[#requests + 1])
  end
end
request = function() return requests[math.random(#requests)] end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {{"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#,
            paths = self.paths.display(),
        )?;
        let file = self.dir.path().join("requests.lua");
        std::fs::write(&file, script)?;
        Ok(file)
    }

    /// oha's target: the one URL, or a file of URLs (one per request) for `base`.
    pub(crate) fn oha_target(&self, base: &str) -> anyhow::Result<Vec<String>> {
        if let Some(path) = self.fixed_path {
            return Ok(vec![format!("{base}{path}")]);
        }
        let urls: String = std::fs::read_to_string(&self.paths)?
            .lines()
            .map(|p| format!("{base}{p}\n"))
            .collect();
        let file = self.dir.path().join(format!("urls-{}", free_port()));
        std::fs::write(&file, urls)?;
        Ok(vec!["--urls-from-file".into(), file.display().to_string()])
    }
}
