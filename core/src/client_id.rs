//! The `X-Switchyard-Client` header (docs/api.md#fleet-proof-that-a-change-took): how an SDK names itself to the instance it
//! streams from, so the fleet view can count which version each SDK has loaded. The SDK
//! writes it and the server reads it with this one module.
//!
//! Form: `<client id>; app=<name>`, plus `; stream=<instance id>` on snapshot requests when
//! the SDK's stream is on another instance (behind a load balancer a fetch may land
//! elsewhere; that instance hands the news over). Every value is an [`is_fleet_id`].

/// The header's name.
pub const CLIENT_HEADER: &str = "x-switchyard-client";

/// The longest id, application name or instance id.
pub const MAX_FLEET_ID: usize = 128;

/// Whether `s` may be a client id, application name or instance id: 1 to 128 ASCII letters,
/// digits, `.`, `_`, `-` or `:`.
pub fn is_fleet_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_FLEET_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// `name` made into an [`is_fleet_id`]: other characters become `-`, cut to the maximum
/// length; `fallback` when nothing is left.
pub fn fleet_id_from(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_FLEET_ID)
        .collect();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// One SDK's `X-Switchyard-Client` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHeader {
    /// The SDK instance's id (one per `Client`, random by default).
    pub client: String,
    /// The application it runs in.
    pub app: String,
    /// The instance its stream is on, when the request may have gone elsewhere.
    pub stream: Option<String>,
}

impl ClientHeader {
    /// Parses the header's value; says what is wrong with a malformed one. Unknown
    /// parameters are ignored, so newer SDKs can say more.
    pub fn parse(value: &str) -> Result<ClientHeader, String> {
        let mut parts = value.split(';').map(str::trim);
        let client = parts.next().unwrap_or_default();
        if !is_fleet_id(client) {
            return Err(format!(
                "the client id {client:?} must be 1 to {MAX_FLEET_ID} letters, digits, '.', '_', '-' or ':'"
            ));
        }
        let mut header = ClientHeader {
            client: client.to_owned(),
            app: String::new(),
            stream: None,
        };
        for part in parts.filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("{part:?} is not name=value"));
            };
            let slot = match name.trim() {
                "app" => &mut header.app,
                "stream" => header.stream.insert(String::new()),
                _ => continue,
            };
            let value = value.trim();
            if !is_fleet_id(value) {
                return Err(format!(
                    "{name}={value:?} must be 1 to {MAX_FLEET_ID} letters, digits, '.', '_', '-' or ':'"
                ));
            }
            value.clone_into(slot);
        }
        if header.app.is_empty() {
            return Err("app=<name> is missing".into());
        }
        Ok(header)
    }
}

impl std::fmt::Display for ClientHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; app={}", self.client, self.app)?;
        if let Some(stream) = &self.stream {
            write!(f, "; stream={stream}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let header = ClientHeader {
            client: "a1b2".into(),
            app: "checkout".into(),
            stream: Some("web-1:8080".into()),
        };
        assert_eq!(ClientHeader::parse(&header.to_string()), Ok(header));
        let plain = ClientHeader::parse("c9 ; app=api ; future=1").unwrap();
        assert_eq!((plain.client.as_str(), plain.app.as_str()), ("c9", "api"));
        assert_eq!(plain.stream, None);
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "; app=x",
            "c1",
            "c1; app=",
            "c1; app=has space",
            "c1; app=x; stream=",
            "c 1; app=x",
            "c1; appx",
        ] {
            assert!(ClientHeader::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(ClientHeader::parse(&format!("{}; app=x", "c".repeat(129))).is_err());
    }

    #[test]
    fn names_are_cleaned_into_ids() {
        assert_eq!(fleet_id_from("my app/2", "x"), "my-app-2");
        assert_eq!(fleet_id_from("", "x"), "x");
        assert!(is_fleet_id(&fleet_id_from(&"é".repeat(300), "x")));
    }
}
