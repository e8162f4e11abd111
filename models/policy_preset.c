/*
 * policy_preset - the reply texts real receivers send when they throttle, by rule kind.
 *
 * A scenario says "rule: concurrency_per_ip, limit: 3" and, unless it gives its own `reply`, the
 * receiver answers with the text of its preset: Postfix's smtpd/anvil texts by default, or what
 * Gmail, Yahoo, Orange... are known to send (reference/receiver-policies.md, sections 1 and 3). The
 * point is realism where it matters to the sender: MTAs and their operators' tooling match on these
 * texts (KumoMTA's shaping rules, Postfix's smtp_*_reply filters), so a simulated Orange has to say
 * "Trop de connexions" and not a generic 421.
 *
 * Mapping a provider's text to a rule kind is a judgement: providers publish what they reply, not the
 * limit behind it. Each text below sits on the kind whose effect it describes; a kind a provider has
 * no published text for falls back to Postfix's text, so every entry but TARPIT (which never replies)
 * is filled and callers need no fallback logic. Texts are kept exactly as providers send them, with
 * the address placeholders turned into escapes: %h our host name, %i the client IP, %r the recipient
 * address and %d its domain (policy.c expands them). Multi-line replies (GMX/web.de) separate lines
 * with "\n" and carry the code on each line, as on the wire.
 *
 * The penalty box text is Orange's OFR_999 in the orange preset only: no other provider documents a
 * reply for "you ignored our earlier replies", so the others use Postfix's nearest ("too many errors").
 */
#include "models/policy_preset.h"

#include <string.h>

/* Postfix smtpd(8), anvil-driven limits, and postgrey behind check_policy_service. */
#define PF_CONNECTIONS "421 4.7.0 %h Error: too many connections from %i"
#define PF_ALL_BUSY "421 4.3.2 All server ports are busy" /* postscreen at its pre-queue limit */
#define PF_MESSAGE_RATE "450 4.7.1 Error: too much mail from %i"
#define PF_RECIPIENT_RATE "450 4.7.1 Error: too many recipients from %i"
#define PF_PER_SESSION "421 4.7.0 Too many messages in this connection"
#define PF_PER_MESSAGE "452 4.5.3 Error: too many recipients"
#define PF_GREYLIST \
    "450 4.2.0 <%r>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/%d.html"
#define PF_FAULT "451 4.3.0 Temporary System Problem. Try again later."
#define PF_BOX "421 4.7.0 %h Error: too many errors"
#define PF_IDLE "421 4.4.2 %h Error: timeout exceeded"

#define GMX_HEAD "421-web.de (mxweb113) Nemesis ESMTP Service not available\n421-Reject due to policy restrictions.\n"

static const policy_preset presets[] = {
    {"postfix", "Postfix smtpd with anvil limits and postgrey (the default)",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_CONCURRENCY_TOTAL] = PF_ALL_BUSY,
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = PF_MESSAGE_RATE,
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = PF_RECIPIENT_RATE,
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"exim", "Exim with smtp_accept_max_per_host, smtp_accept_max and recipients_max",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] =
             "421 Too many concurrent SMTP connections from this IP address; please try again later.",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "421 Too many concurrent SMTP connections; please try again later.",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = PF_MESSAGE_RATE,
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = PF_RECIPIENT_RATE,
         [POLICY_RULE_MESSAGES_PER_SESSION] = "421 too many messages in this connection",
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = "452 too many recipients",
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"haraka", "Haraka with the limit plugin (concurrency, rate_conn, rate_rcpt_host, recipients)",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "421 Too many concurrent connections",
         [POLICY_RULE_CONCURRENCY_TOTAL] = PF_ALL_BUSY,
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 connection rate limit exceeded",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = "450 rate limit exceeded",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = "450 rcpt rate limit exceeded",
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = "450 Too many recipient attempts",
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"gmail", "Gmail: reputation rate limits (4.7.28), DoS protection, 4.5.3 recipient limit",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "421 4.7.0 Try again later, closing connection.",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "421 4.4.5 Server busy, try again later.",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 4.7.0 Try again later, closing connection.",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] =
             "421 4.7.28 Gmail has detected an unusual rate of unsolicited email originating from your IP "
             "address %i. To protect our users from spam, mail sent from your IP address has been temporarily "
             "rate limited.",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] =
             "450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional "
             "messages from being delivered. Please resend your message at a later point.",
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = "452 4.5.3 Your message has too many recipients.",
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = "421 4.3.0 Temporary System Problem. Try again later.",
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"yahoo", "Yahoo/AOL: [TSS04] volume deferrals, messages-per-connection limit (often a silent close)",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_CONCURRENCY_TOTAL] = PF_ALL_BUSY,
         [POLICY_RULE_CONNECTION_RATE_PER_IP] =
             "421 4.7.0 [TSS04] Messages from %i temporarily deferred due to unexpected volume or user complaints",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] =
             "421 4.7.0 [TSS04] Messages from %i temporarily deferred due to unexpected volume or user complaints",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] =
             "421 4.7.0 [TSS04] Messages from %i temporarily deferred due to unexpected volume or user complaints",
         [POLICY_RULE_MESSAGES_PER_SESSION] = "421 Max message per connection reached, closing transmission channel",
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = "451 Resources temporarily not available - Please try again later",
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"outlook", "Outlook.com/Exchange Online: RP-00x limits, 4.7.650 reputation throttle, AS761 busy",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "421 RP-003",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "451 4.7.500 Server busy. Please try again later from [%i]. (AS761)",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 RP-001",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] =
             "451 4.7.650 The mail server [%i] has been temporarily rate limited due to IP reputation. (S775)",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = PF_RECIPIENT_RATE,
         [POLICY_RULE_MESSAGES_PER_SESSION] = "421 RP-002",
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = "452 4.5.3 Too many recipients",
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = "451 4.7.500 Server busy. Please try again later from [%i]. (AS761)",
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"orange", "Orange/Wanadoo: 3 connections per MX (OFR005_104), OFR_999 suspension",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre "
                                            "configuration. Too many connections, slow down. OFR005_104 [104]",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre "
                                           "configuration. Too many connections, slow down. OFR005_104 [104]",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre "
                                                "configuration. Too many connections, slow down. OFR005_104 [104]",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = PF_MESSAGE_RATE,
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = PF_RECIPIENT_RATE,
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = "421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service "
                                     "refused, please try later. OFR_999 [999]",
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"comcast", "Comcast: 25 sessions per IP, RL0000xx throttling",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "421 - [Too many sessions opened]",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "421 - [Too many sessions opened]",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 4.1.0 %i Throttled - try again later",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = "421 4.1.0 %i Throttled - try again later",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = "421 4.1.0 %i Throttled - try again later",
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"icloud", "Apple iCloud: per-recipient volume deferrals, [HCM1], load-related 451s",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_CONCURRENCY_TOTAL] = "451 [BS02] Temporary server error. Please try again later.",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = "421 [HCM1] Your mail from %i was deferred.",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = "421 [HCM1] Your mail from %i was deferred.",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = "421 4.7.1 Messages to %r deferred due to excessive volume. Try again later",
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = "451 4.7.1 Service unavailable - try again later",
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"gmx", "GMX/web.de: multi-line 421 without enhanced codes (Nemesis)",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = GMX_HEAD "421 Too many connections",
         [POLICY_RULE_CONCURRENCY_TOTAL] = GMX_HEAD "421 Too many connections",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = GMX_HEAD "421 Too many connections",
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = GMX_HEAD "421 Too many messages have been received in a short period "
                                                      "of time. Please try again in a few hours and reduce the "
                                                      "sending rate.",
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = GMX_HEAD "421 Too many messages have been received in a short "
                                                        "period of time. Please try again in a few hours and "
                                                        "reduce the sending rate.",
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = PF_GREYLIST,
         [POLICY_RULE_RANDOM_FAULT] = PF_FAULT,
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
    {"mimecast", "Mimecast: 20 connections per account, greylisting with 451",
     {
         [POLICY_RULE_CONCURRENCY_PER_IP] = "451 Account service is temporarily unavailable",
         [POLICY_RULE_CONCURRENCY_TOTAL] = "451 Account service is temporarily unavailable",
         [POLICY_RULE_CONNECTION_RATE_PER_IP] = PF_CONNECTIONS,
         [POLICY_RULE_MESSAGE_RATE_PER_IP] = PF_MESSAGE_RATE,
         [POLICY_RULE_RECIPIENT_RATE_PER_IP] = PF_RECIPIENT_RATE,
         [POLICY_RULE_MESSAGES_PER_SESSION] = PF_PER_SESSION,
         [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = PF_PER_MESSAGE,
         [POLICY_RULE_GREYLIST] = "451 Internal resources are temporarily unavailable",
         [POLICY_RULE_RANDOM_FAULT] = "451 Internal resources are temporarily unavailable",
         [POLICY_RULE_PENALTY_BOX] = PF_BOX,
         [POLICY_RULE_IDLE_TIMEOUT] = PF_IDLE,
     }},
};

const policy_preset *policy_preset_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

const policy_preset *policy_preset_list(size_t *count)
{
    if (count != NULL)
        *count = sizeof(presets) / sizeof(presets[0]);
    return presets;
}
