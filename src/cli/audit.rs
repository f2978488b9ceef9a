//! `kakunin audit verify`: checks the hash chain of the audit log.

use crate::audit::verify_chain;
use crate::db::DbPool;

/// Exit 0 when intact, 1 when broken (naming the first broken row).
pub fn verify(pool: &DbPool) -> anyhow::Result<u8> {
    let mut c = pool.get()?;
    match verify_chain(&mut c)? {
        Ok(n) => {
            println!("監査ログは改ざんされていません（{n}件）");
            Ok(0)
        }
        Err(brk) => {
            println!("監査ログの改ざんを検出しました: {brk}");
            Ok(1)
        }
    }
}
