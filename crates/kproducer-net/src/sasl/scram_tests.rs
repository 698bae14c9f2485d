use super::*;

/// RFC 7677 §3: user `user`, password `pencil`, client nonce
/// `rOprNGfwEbeRWgbNEkqO`.
const RFC7677_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC7677_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC7677_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
     p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC7677_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc7677() -> ScramExchange {
    Scram::new(ScramHash::Sha256, "user", "pencil")
        .exchange(RFC7677_NONCE.to_owned())
        .unwrap()
}

fn respond(step: Step) -> String {
    match step {
        Step::Respond(t) => String::from_utf8(t).unwrap(),
        Step::Done => panic!("expected a response"),
    }
}

#[test]
fn rfc_7677_test_vector() {
    let mut x = rfc7677();
    assert_eq!(
        x.initial_response().unwrap(),
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    );
    let client_final = respond(x.step(RFC7677_SERVER_FIRST.as_bytes()).unwrap());
    assert_eq!(client_final, RFC7677_CLIENT_FINAL);
    assert_eq!(x.step(RFC7677_SERVER_FINAL.as_bytes()).unwrap(), Step::Done);
}

#[test]
fn rfc_7677_credential_matches_what_the_server_would_store() {
    // The server side of the same vector: its stored key must accept the
    // client's proof (ClientKey = proof XOR ClientSignature, H(ClientKey)
    // == StoredKey).
    let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let cred = crate::ScramCredential::new(ScramHash::Sha256, "pencil", &salt, 4096);
    let auth_message = format!(
        "n=user,r={RFC7677_NONCE},{RFC7677_SERVER_FIRST},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    );
    let proof = BASE64
        .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        .unwrap();
    let client_signature = ScramHash::Sha256.hmac(&cred.stored_key, auth_message.as_bytes());
    let client_key = xor(&proof, &client_signature);
    assert_eq!(ScramHash::Sha256.digest(&client_key), cred.stored_key);
    let server_signature = ScramHash::Sha256.hmac(&cred.server_key, auth_message.as_bytes());
    assert_eq!(
        format!("v={}", BASE64.encode(server_signature)),
        RFC7677_SERVER_FINAL
    );
}

#[test]
fn a_wrong_server_signature_is_refused() {
    let mut x = rfc7677();
    x.initial_response().unwrap();
    respond(x.step(RFC7677_SERVER_FIRST.as_bytes()).unwrap());
    let forged = format!("v={}", BASE64.encode([7u8; 32]));
    let e = x.step(forged.as_bytes()).unwrap_err();
    assert!(
        matches!(e, SaslError::ServerSignatureMismatch { .. }),
        "{e}"
    );
    assert!(e.is_fatal());
}

#[test]
fn a_server_error_in_server_final_is_an_authentication_failure() {
    let mut x = rfc7677();
    x.initial_response().unwrap();
    respond(x.step(RFC7677_SERVER_FIRST.as_bytes()).unwrap());
    let e = x.step(b"e=invalid-proof").unwrap_err();
    assert!(matches!(e, SaslError::AuthenticationFailed { .. }), "{e}");
    assert!(e.to_string().contains("invalid-proof"));
}

fn server_first_error(server_first: &str) -> SaslError {
    let mut x = rfc7677();
    x.initial_response().unwrap();
    x.step(server_first.as_bytes()).unwrap_err()
}

#[test]
fn unacceptable_server_first_messages_are_refused() {
    let cases = [
        // A nonce that does not extend the client's.
        "r=XXXprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // The client's nonce alone.
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Too few iterations.
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
        // Absurdly many.
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2000000000",
        // A mandatory extension.
        "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // No salt, a bad salt, no iteration count, garbage.
        "r=rOprNGfwEbeRWgbNEkqOabc,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=!!!,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        "garbage",
        "",
    ];
    for case in cases {
        let e = server_first_error(case);
        assert!(
            matches!(e, SaslError::InvalidServerMessage { .. }),
            "{case}: {e}"
        );
        assert!(e.is_fatal());
    }
    let e = server_first_error("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095");
    assert!(e.to_string().contains("below the minimum of 4096"), "{e}");
}

#[test]
fn messages_out_of_turn_are_refused() {
    let mut x = rfc7677();
    assert!(x.step(RFC7677_SERVER_FIRST.as_bytes()).is_err());
    let mut x = rfc7677();
    x.initial_response().unwrap();
    respond(x.step(RFC7677_SERVER_FIRST.as_bytes()).unwrap());
    x.step(RFC7677_SERVER_FINAL.as_bytes()).unwrap();
    assert!(x.step(RFC7677_SERVER_FINAL.as_bytes()).is_err());
}

#[test]
fn user_names_are_escaped() {
    let mut x = Scram::new(ScramHash::Sha512, "a=b,c", "pw")
        .exchange("nonce".to_owned())
        .unwrap();
    assert_eq!(x.initial_response().unwrap(), b"n,,n=a=3Db=2Cc,r=nonce");
}

#[test]
fn nonces_are_random_and_printable() {
    let a = random_nonce().unwrap();
    let b = random_nonce().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_graphic() && c != b','));
}

#[test]
fn the_salted_password_is_reused_for_the_same_salt() {
    let scram = Scram::new(ScramHash::Sha256, "user", "pencil");
    for _ in 0..2 {
        let mut x = scram.exchange(RFC7677_NONCE.to_owned()).unwrap();
        x.initial_response().unwrap();
        assert_eq!(
            respond(x.step(RFC7677_SERVER_FIRST.as_bytes()).unwrap()),
            RFC7677_CLIENT_FINAL
        );
        assert!(scram.salted.lock().unwrap().is_some());
    }
}

#[test]
fn sha512_round_trip_against_a_stored_credential() {
    // No published SCRAM-SHA-512 vector: check the client against the
    // server-side derivation (whose SHA-256 half is pinned by RFC 7677).
    let cred = crate::ScramCredential::new(ScramHash::Sha512, "pw", b"salty", 4096);
    let mut x = Scram::new(ScramHash::Sha512, "u", "pw")
        .exchange("cn".to_owned())
        .unwrap();
    x.initial_response().unwrap();
    let server_first = format!("r=cnsn,s={},i=4096", BASE64.encode(b"salty"));
    let client_final = respond(x.step(server_first.as_bytes()).unwrap());
    let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
    let auth_message = format!("n=u,r=cn,{server_first},{without_proof}");
    let sig = ScramHash::Sha512.hmac(&cred.stored_key, auth_message.as_bytes());
    let client_key = xor(&BASE64.decode(proof).unwrap(), &sig);
    assert_eq!(ScramHash::Sha512.digest(&client_key), cred.stored_key);
    let v = ScramHash::Sha512.hmac(&cred.server_key, auth_message.as_bytes());
    let server_final = format!("v={}", BASE64.encode(v));
    assert_eq!(x.step(server_final.as_bytes()).unwrap(), Step::Done);
}
