//! `clients`: the OAuth client registry.

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use iam_axum::dto::TokenEndpointAuthMethod;
use iam_axum::dto::{AccessTokenFormat, JwsAlg};
use iam_axum::dto::{
    ClientDisabledOut, ClientKind, ClientList, ClientSecretOut, NewClientBody, OAuthClient,
    RegisteredClientOut,
};
use reqwest::Method;

use crate::client;
use crate::connect::connect;
use crate::output;
use crate::GlobalArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum ClientKindArg {
    Confidential,
    Public,
}

/// The `--access-token-format` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum AccessTokenFormatArg {
    /// PASETO v4.public (the default).
    Paseto,
    /// RFC 9068 JWT access tokens, for resource servers that understand only JWTs.
    Jwt,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing would only obscure clap's derive
pub enum ClientsCmd {
    /// List OAuth clients (admin).
    List,
    /// Register a client; a confidential client's secret is printed once.
    Register {
        /// Display name.
        name: String,
        /// Client kind.
        #[arg(long, value_enum, default_value = "confidential")]
        kind: ClientKindArg,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A grant type (repeatable): authorization_code, client_credentials, refresh_token,
        /// urn:ietf:params:oauth:grant-type:device_code.
        #[arg(long = "grant", value_name = "GRANT_TYPE", required = true)]
        grant_types: Vec<String>,
        /// An allowed scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// An allowed resource indicator (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// Require PKCE (the server's default when absent).
        #[arg(long, value_name = "BOOL")]
        require_pkce: Option<bool>,
        /// The client acts for the registering account (client credentials as its owner).
        #[arg(long)]
        acts_for_owner: bool,
        /// How its ID tokens are signed: RS256 (default), ES256 or EdDSA.
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// Where RP-initiated logout may return the browser (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// The longest a sign-in may be ago, in seconds, for an authorization request
        /// without `max_age` (OpenID Connect `default_max_age`; at most a year): an older
        /// one signs in again.
        #[arg(long, value_name = "SECONDS")]
        default_max_age: Option<u64>,
        /// The format of its access tokens: paseto (default) or jwt (RFC 9068, signed with
        /// the ID-token algorithm).
        #[arg(long, value_enum, value_name = "FORMAT")]
        access_token_format: Option<AccessTokenFormatArg>,
        /// Where Logout Tokens are POSTed when a user's session ends (OpenID Connect
        /// Back-Channel Logout): https, or http on a loopback host.
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// How the client authenticates: client_secret_basic (default for confidential
        /// clients), client_secret_post, private_key_jwt, or none (public clients).
        #[arg(long, value_name = "METHOD")]
        auth_method: Option<String>,
        /// The client's public keys, a JWK set file (for --auth-method private_key_jwt).
        #[arg(long, value_name = "PATH")]
        jwks_file: Option<std::path::PathBuf>,
    },
    /// Show one client.
    Show {
        /// Client id.
        id: String,
    },
    /// Rotate a confidential client's secret (printed once; the old one works for a grace
    /// period).
    RotateSecret {
        /// Client id.
        id: String,
    },
    /// Disable a client and revoke its tokens.
    Disable {
        /// Client id.
        id: String,
    },
}

/// Prints a client secret for people, with the reminder that it is shown once.
fn show_secret(secret: &str) {
    output::pairs(&[("client secret", secret.to_owned())]);
    eprintln!("(the secret is shown once)");
}

/// Runs a `clients` command.
pub async fn run(g: &GlobalArgs, cmd: &ClientsCmd) -> Result<()> {
    let json_out = g.json;
    let mut api = connect(g, false)?;
    match cmd {
        ClientsCmd::List => {
            let v: ClientList = api.get("/clients").await?;
            output::print(json_out, &v, |v| {
                output::clients(&v.clients);
            });
        }
        ClientsCmd::Register {
            name,
            kind,
            redirect_uris,
            grant_types,
            scopes,
            resources,
            require_pkce,
            acts_for_owner,
            id_token_alg,
            post_logout_redirect_uris,
            default_max_age,
            access_token_format,
            backchannel_logout_uri,
            auth_method,
            jwks_file,
        } => {
            let token_endpoint_auth_method = match auth_method.as_deref() {
                None => None,
                Some(m) => Some(TokenEndpointAuthMethod::parse(m).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--auth-method: client_secret_basic, client_secret_post, private_key_jwt or none"
                    )
                })?),
            };
            let jwks = match jwks_file {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("--jwks-file {}: {e}", path.display()))?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        anyhow::anyhow!("--jwks-file {}: not JSON: {e}", path.display())
                    })?)
                }
            };
            let id_token_signed_response_alg = match id_token_alg.as_deref() {
                None => None,
                Some(a) => Some(
                    JwsAlg::parse(a)
                        .ok_or_else(|| anyhow::anyhow!("--id-token-alg: RS256, ES256 or EdDSA"))?,
                ),
            };
            let body = NewClientBody {
                name: name.clone(),
                kind: match kind {
                    ClientKindArg::Confidential => ClientKind::Confidential,
                    ClientKindArg::Public => ClientKind::Public,
                },
                redirect_uris: redirect_uris.clone(),
                grant_types: grant_types.clone(),
                scopes: scopes.iter().cloned().collect(),
                resources: resources.iter().cloned().collect(),
                require_pkce: *require_pkce,
                acts_for_owner: *acts_for_owner,
                first_party: false,
                id_token_signed_response_alg,
                post_logout_redirect_uris: post_logout_redirect_uris.clone(),
                default_max_age: *default_max_age,
                access_token_format: access_token_format.map(|f| match f {
                    AccessTokenFormatArg::Paseto => AccessTokenFormat::Paseto,
                    AccessTokenFormatArg::Jwt => AccessTokenFormat::Jwt,
                }),
                backchannel_logout_uri: backchannel_logout_uri.clone(),
                backchannel_logout_session_required: None,
                token_endpoint_auth_method,
                jwks,
            };
            let v: RegisteredClientOut = api.send_json(Method::POST, "/clients", &body).await?;
            output::print(json_out, &v, |v| {
                output::client(&v.client);
                if let Some(secret) = &v.client_secret {
                    show_secret(secret);
                }
            });
        }
        ClientsCmd::Show { id } => {
            let v: OAuthClient = api.get(&format!("/clients/{}", client::seg(id))).await?;
            output::print(json_out, &v, output::client);
        }
        ClientsCmd::RotateSecret { id } => {
            let path = format!("/clients/{}/secret", client::seg(id));
            let v: ClientSecretOut = api.act(Method::POST, &path).await?;
            output::print(json_out, &v, |v| {
                show_secret(&v.client_secret);
            });
        }
        ClientsCmd::Disable { id } => {
            let path = format!("/clients/{}/disable", client::seg(id));
            let v: ClientDisabledOut = api.act(Method::POST, &path).await?;
            output::print(json_out, &v, |v| {
                println!(
                    "client disabled; {} token families revoked",
                    v.revoked_token_families
                );
            });
        }
    }
    Ok(())
}
