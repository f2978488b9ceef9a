// @generated automatically by Diesel CLI.
// Kept in `diesel print-schema` form for migrations/service; regenerate, don't edit.

diesel::table! {
    api_rate (token_id) {
        token_id -> Integer,
        tat -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Integer,
        name -> Text,
        office_code -> Text,
        scope -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_checkpoints (id) {
        id -> Integer,
        at -> Timestamp,
        event_count -> Integer,
        head_seq -> Integer,
        head_hash -> Text,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    audit_daily (day, office_code, outcome) {
        day -> Text,
        office_code -> Text,
        outcome -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> Integer,
        at -> Timestamp,
        actor -> Text,
        office_code -> Text,
        action -> Text,
        target -> Text,
        outcome -> Text,
        address -> Text,
        user_agent -> Text,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    certificate_uses (certificate_number, office_code, case_number) {
        certificate_number -> Text,
        office_code -> Text,
        case_number -> Text,
    }
}

diesel::table! {
    installation (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    number_locks (certificate_number) {
        certificate_number -> Text,
        locked_until -> Timestamp,
    }
}

diesel::table! {
    offices (code) {
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rule_profiles (digest) {
        digest -> Text,
        name -> Text,
        text -> Text,
        first_used_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<Integer>,
        csrf -> Text,
        created_at -> Timestamp,
        last_seen -> Timestamp,
    }
}

diesel::table! {
    signin_failures (id) {
        id -> Integer,
        login -> Text,
        address -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        login -> Text,
        name -> Text,
        role -> Text,
        office_code -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        must_change_password -> Bool,
    }
}

diesel::table! {
    verifications (id) {
        id -> Text,
        office_code -> Text,
        actor -> Text,
        client_ref -> Nullable<Text>,
        certificate_number -> Text,
        key_fingerprint -> Text,
        issuer_id -> Nullable<Text>,
        outcome -> Text,
        checked_at -> Timestamp,
        kid -> Nullable<Text>,
        revision -> Nullable<Integer>,
        jws -> Nullable<Text>,
        rules -> Text,
        expected -> Text,
        detail -> Nullable<Text>,
        receipt -> Nullable<Text>,
        profile_digest -> Nullable<Text>,
        case_number -> Nullable<Text>,
        case_title -> Nullable<Text>,
    }
}

diesel::joinable!(api_rate -> api_tokens (token_id));
diesel::joinable!(api_tokens -> offices (office_code));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(users -> offices (office_code));

diesel::allow_tables_to_appear_in_same_query!(
    api_rate,
    api_tokens,
    audit_checkpoints,
    audit_daily,
    audit_events,
    certificate_uses,
    installation,
    number_locks,
    offices,
    rule_profiles,
    sessions,
    signin_failures,
    users,
    verifications,
);
