//! Separators and header blocks that open a quoted or forwarded message:
//! "-----Original Message-----", "---------- Forwarded message ----------",
//! and Outlook's "From: … Sent: … To: … Subject: …" block, in the languages
//! the corpora cover.

use std::sync::LazyLock;

use regex::Regex;

use super::lines::{Line, MAX_HEADER_LEN};
use super::regex;

/// An Outlook header block is looked for over at most this many lines.
const MAX_BLOCK_LINES: usize = 24;

/// "-----Original Message-----" and its translations.
pub(super) static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^[\s*_]*-{2,}\s*(?:original\s+message|original\s+e-?mail|reply\s+message|ursprüngliche\s+nachricht|original-nachricht|antwort\s+nachricht|oprindelig\s+meddelelse|oprindelig\s+besked|opprinnelig\s+melding|originalmeddelande|ursprungligt\s+meddelande|message\s+d'origine|message\s+original|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|origineel\s+bericht|wiadomość\s+oryginalna|původní\s+zpráva|исходное\s+сообщение|mensagem\s+original|alkuperäinen\s+viesti|原始邮件|原始郵件|元のメッセージ)\s*-*[\s*_]*$",
    )
});

/// "---------- Forwarded message ----------", "Begin forwarded message:".
pub(super) static FORWARDED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^[\s*]*(?:-{2,}\s*(?:forwarded\s+message|forwarded\s+e-?mail|message\s+transféré|weitergeleitete\s+nachricht|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|videresendt\s+meddelelse|vidarebefordrat\s+meddelande|wiadomość\s+przekazana|пересылаемое\s+сообщение|mensagem\s+encaminhada|转发邮件)\s*-*|begin\s+forwarded\s+message\s*:|début\s+du\s+message\s+(?:réexpédié|transféré)\s*:|anfang\s+der\s+weitergeleiteten\s+nachricht\s*:|inicio\s+del\s+mensaje\s+reenviado\s*:)[\s*]*$",
    )
});

/// "Key: value", with Outlook's bold stars and French spacing ("Objet :").
static FIELD: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s*[*_]{0,2}([\p{L}][\p{L}\p{M} '.\-]{0,28}?)[*_]{0,2}\s*[:：]"));

/// A header field as far as recognising a block goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    From,
    Date,
    To,
    Cc,
    Subject,
    Other,
}

/// The header-field names Outlook and webmail clients write above a quoted
/// message, in the languages the corpora cover.
fn field_kind(key: &str) -> Field {
    let k = key.trim().trim_end_matches('.').to_lowercase();
    match k.as_str() {
        "from" | "von" | "van" | "de" | "da" | "fra" | "från" | "od" | "от" | "lähettäjä"
        | "kimden" | "feladó" | "发件人" | "寄件者" | "差出人" | "từ" | "afzender"
        | "expéditeur" | "remitente" | "mittente" | "absender" => Field::From,
        "sent"
        | "date"
        | "datum"
        | "data"
        | "envoyé"
        | "envoyé le"
        | "enviado"
        | "enviada"
        | "enviado el"
        | "enviada em"
        | "enviado em"
        | "gesendet"
        | "verzonden"
        | "inviato"
        | "sendt"
        | "skickat"
        | "wysłano"
        | "wysłane"
        | "отправлено"
        | "дата"
        | "lähetetty"
        | "发送时间"
        | "日期"
        | "送信日時"
        | "ngày gửi"
        | "odesláno"
        | "gönderildi"
        | "dato"
        | "fecha"
        | "sent at" => Field::Date,
        "to" | "an" | "aan" | "a" | "à" | "para" | "til" | "till" | "do" | "кому"
        | "vastaanottaja" | "收件人" | "宛先" | "tới" | "kime" | "destinataire"
        | "destinatario" | "empfänger" | "komu" | "címzett" => Field::To,
        "cc" | "kopie" | "copie" | "copie à" | "kopia" | "копия" | "cc." | "抄送" => {
            Field::Cc
        }
        "subject" | "betreff" | "onderwerp" | "oggetto" | "objet" | "sujet" | "asunto"
        | "assunto" | "emne" | "ämne" | "temat" | "тема" | "aihe" | "主题" | "主旨" | "件名"
        | "chủ đề" | "konu" | "předmět" | "tárgy" => Field::Subject,
        _ => Field::Other,
    }
}

/// The kind of header field the line starts with, if it starts with one.
fn field_of(line: &str) -> Option<Field> {
    if line.len() > MAX_HEADER_LEN {
        return None;
    }
    FIELD
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|k| field_kind(k.as_str()))
}

/// Does an Outlook-style header block ("From: … Sent: … To: … Subject: …")
/// start at line `i`? Lines that are not fields may sit inside the block when
/// a field follows within two lines (a wrapped address or subject).
pub(super) fn header_block_at(lines: &[Line], i: usize) -> bool {
    let Some(first) = field_of(&lines[i].text) else {
        return false;
    };
    let mut seen = vec![first];
    let mut j = i + 1;
    let end = lines.len().min(i + MAX_BLOCK_LINES);
    while j < end && lines[j].keep {
        let t = &lines[j].text;
        if t.trim().is_empty() {
            break;
        }
        if let Some(f) = field_of(t) {
            seen.push(f);
            j += 1;
            continue;
        }
        // A continuation line counts only if a field follows it directly.
        let field_follows = (j + 1..end.min(j + 3))
            .take_while(|&k| !lines[k].text.trim().is_empty())
            .any(|k| field_of(&lines[k].text).is_some());
        if !field_follows {
            break;
        }
        j += 1;
    }
    let has = |f: Field| seen.contains(&f);
    let kinds = [
        Field::From,
        Field::Date,
        Field::To,
        Field::Cc,
        Field::Subject,
    ]
    .iter()
    .filter(|&&f| has(f))
    .count();
    kinds >= 2 && (has(Field::From) || has(Field::To))
}

#[cfg(test)]
mod tests {
    use super::super::visible_text;

    #[test]
    fn strips_outlook_blocks_and_separators() {
        let body = "Reply\n________________________________\nFrom: Ann <ann@x.org>\nSent: Monday\nTo: Bob\nSubject: Re: x\n\nold";
        assert_eq!(visible_text(body, None), "Reply");
        let de = "Antwort\n\nVon: Ann\nGesendet: Montag\nAn: Bob\nBetreff: x\n\nalt";
        assert_eq!(visible_text(de, None), "Antwort");
        let orig = "New\n\n-----Original Message-----\nold";
        assert_eq!(visible_text(orig, None), "New");
    }

    #[test]
    fn a_lone_field_is_not_a_header_block() {
        let body = "From: the shop\nI got a broken cup.\n\nDate: Monday\nTime: 10:00";
        assert_eq!(visible_text(body, None), body);
    }

    #[test]
    fn keeps_forwarded_messages() {
        let body = "FYI\n\n---------- Forwarded message ----------\nFrom: a@b.c\nDate: Mon\nSubject: s\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(body, None), body);
    }
}
