//! A software passkey for the HTTP tests (webauthn-rs's `SoftPasskey`), acting for a browser at
//! one origin: it answers creation options, and request options (filling in its own
//! credential for a discoverable request, as a platform authenticator would).

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// A software authenticator with the credential it registered.
pub struct SoftKey {
    auth: SoftPasskey,
    origin: Url,
    user_handle: String,
    credential_id: String,
}

impl SoftKey {
    /// Answers the creation `options` (`{"publicKey": …}`) at `origin`; the key and the
    /// credential JSON `navigator.credentials.create()` would have produced.
    pub fn register(origin: &str, options: &Value) -> (SoftKey, Value) {
        let origin = Url::parse(origin).unwrap();
        let parsed: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        let mut auth = SoftPasskey::new(true);
        let reg = auth.do_registration(origin.clone(), parsed).unwrap();
        let reg = serde_json::to_value(&reg).unwrap();
        let key = SoftKey {
            auth,
            origin,
            user_handle: options["publicKey"]["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            credential_id: reg["rawId"].as_str().unwrap().to_owned(),
        };
        (key, reg)
    }

    /// Answers the request `options`; the credential JSON `navigator.credentials.get()`
    /// would have produced.
    pub fn answer(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if discoverable {
            options["publicKey"]["allowCredentials"] =
                json!([{"type": "public-key", "id": self.credential_id}]);
        }
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let cred: PublicKeyCredential = self
            .auth
            .do_authentication(self.origin.clone(), options)
            .unwrap();
        let mut cred = serde_json::to_value(&cred).unwrap();
        if discoverable {
            cred["response"]["userHandle"] = self.user_handle.clone().into();
        }
        cred
    }
}
