// @generated automatically by Diesel CLI.
// Kept by hand in print-schema form: it must match migrations/issuer exactly
// (`diesel print-schema --database-url data/issuer.db` reproduces it).

diesel::table! {
    certificates (id) {
        id -> Integer,
        certificate_number -> Text,
        contractor_id -> Nullable<Integer>,
        auth_key_hmac -> Binary,
        status -> Text,
        latest_revision -> Integer,
        created_at -> Text,
        updated_at -> Text,
        auth_key_sealed -> Nullable<Binary>,
    }
}

diesel::table! {
    clients (id) {
        id -> Integer,
        name -> Text,
        token_sha256 -> Binary,
        created_at -> Text,
        revoked -> Bool,
    }
}

diesel::table! {
    contractors (id) {
        id -> Integer,
        login -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    lookup_failures (id) {
        id -> Integer,
        certificate_number -> Text,
        failed_at -> BigInt,
    }
}

diesel::table! {
    lookup_lockouts (certificate_number) {
        certificate_number -> Text,
        locked_until -> BigInt,
    }
}

diesel::table! {
    revisions (id) {
        id -> Integer,
        certificate_id -> Integer,
        revision -> Integer,
        kid -> Text,
        payload -> Text,
        jws -> Text,
        issued_at -> Text,
    }
}

diesel::table! {
    sessions (id_sha256) {
        id_sha256 -> Binary,
        contractor_id -> Integer,
        csrf_token -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signin_failures (id) {
        id -> Integer,
        login_sha256 -> Text,
        address -> Text,
        failed_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        public_x -> Text,
        not_before -> Text,
        active -> Bool,
        created_at -> Text,
        retired_at -> Nullable<Text>,
    }
}

diesel::joinable!(certificates -> contractors (contractor_id));
diesel::joinable!(revisions -> certificates (certificate_id));
diesel::joinable!(revisions -> signing_keys (kid));
diesel::joinable!(sessions -> contractors (contractor_id));

diesel::allow_tables_to_appear_in_same_query!(
    certificates,
    clients,
    contractors,
    lookup_failures,
    lookup_lockouts,
    revisions,
    sessions,
    signin_failures,
    signing_keys,
);
