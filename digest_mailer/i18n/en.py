"""English: the reference table; every other language has exactly these keys and placeholders."""

TEXTS: dict[str, str] = {
    # --- the language's own conventions ---------------------------------------------------
    "lang.name": "English",
    "lang.prompt_name": "English",  # the language as the briefing model is asked to write it
    "lang.html": "en",
    "lang.font": "Helvetica,Arial,sans-serif",
    "lang.word_sep": " ",  # between words and sentences; "" where text has no spaces
    "lang.list_sep": ", ",
    "lang.list_and": " and ",
    "lang.list_or": " or ",
    "lang.full_stop": ".",
    "lang.colon": ":",
    "lang.parenthesised": "({text})",
    "lang.category_label": "{name} ({code})",
    "lang.category_in_text": "code",  # how a sentence names a category: "code" (cs.CV) or
                                      # "name" (its category.* name; the code where none)
    "lang.num.1": "one", "lang.num.2": "two", "lang.num.3": "three", "lang.num.4": "four",
    "lang.num.5": "five",
    "lang.date_long": "{day} {month} {year}",
    "lang.date_short": "{day} {month} {year}",
    # Spelled out here because strftime("%b") follows the process locale.
    "lang.month.1": "January", "lang.month.2": "February", "lang.month.3": "March",
    "lang.month.4": "April", "lang.month.5": "May", "lang.month.6": "June",
    "lang.month.7": "July", "lang.month.8": "August", "lang.month.9": "September",
    "lang.month.10": "October", "lang.month.11": "November", "lang.month.12": "December",
    "lang.month_short.1": "Jan", "lang.month_short.2": "Feb", "lang.month_short.3": "Mar",
    "lang.month_short.4": "Apr", "lang.month_short.5": "May", "lang.month_short.6": "Jun",
    "lang.month_short.7": "Jul", "lang.month_short.8": "Aug", "lang.month_short.9": "Sep",
    "lang.month_short.10": "Oct", "lang.month_short.11": "Nov", "lang.month_short.12": "Dec",
    # --- the digest email --------------------------------------------------------------------
    "email.product": "Research Digest",
    "email.greeting": "Prepared for {name}",
    "email.subject": "Research digest, {date}: {count} in {categories}",
    "email.subject_empty": "Research digest, {date}: no new papers",
    "email.subject_unnamed": "Research digest, {date}: {count}",
    "email.subject_more": "{first} and {more} more",  # past SUBJECT_CATEGORIES names
    "email.briefing": "Today's briefing",
    "email.kind_llm": "Briefing written by an AI model{model} from today's abstracts"
                      " — may contain errors",
    "email.kind_llm_model": " ({model})",
    "email.kind_extractive": "Briefing extracted from today's abstracts (no AI model used)",
    "email.toc": "In this issue",
    "email.paper_one": "1 paper", "email.paper_many": "{n} papers",
    "email.new_one": "1 new paper", "email.new_many": "{n} new papers",
    "email.empty": "No new papers in your categories today.",
    "email.et_al": "et al.",
    "email.more_like": "More like this", "email.less_like": "Less like this",
    "email.tldr": "TL;DR", "email.pdf": "PDF", "email.doi": "DOI",
    "email.cross_from": "cross-listed from {category}",
    "email.rate": "Rate these papers (more or less like each)",
    "email.why": "Why you get this email",
    "email.preferences": "Manage preferences",
    "email.unsubscribe": "Unsubscribe",
    "email.view_online": "View in browser",
    "email.omitted": "{n} more papers did not fit in this email; all are in the browser view.",
    "email.reason": "You subscribed {email} to the daily research digest",
    "email.reason_categories": " for {categories}",
    "email.reason_keywords": " for the keywords {keywords}",
    "email.reason_keywords_also": " and the keywords {keywords}",
    "email.reason_end": ".",
    # Why a paper is in the digest (a title is cut to ~80 characters), and what was cut.
    "email.why_keyword": "Matched your keyword ‘{label}’",
    "email.why_library": "Close to ‘{label}’ in your library",
    "email.why_more": "Like ‘{label}’, which you marked more like this",
    "email.why_explore": "To help us learn your taste",
    "email.more_in": "{n} more in {category} today",
    "email.more_elsewhere": "Not in this email: {groups}. All are in today's full list.",
    "email.more_item": "{n} in {category}",
    # A weekly digest's words: each email.week.<key> stands in for email.<key> (i18n.digest_texts).
    "email.week.product": "Weekly Research Digest",
    "email.week.subject": "Weekly research digest, week to {date}: {count} in {categories}",
    "email.week.subject_empty": "Weekly research digest, week to {date}: no new papers",
    "email.week.subject_unnamed": "Weekly research digest, week to {date}: {count}",
    "email.week.briefing": "This week's briefing",
    "email.week.kind_llm": "Briefing written by an AI model{model} from this week's abstracts"
                           " — may contain errors",
    "email.week.kind_extractive": "Briefing extracted from this week's abstracts (no AI model"
                                  " used)",
    "email.week.empty": "No new papers in your categories this week.",
    "email.week.reason": "You subscribed {email} to the weekly research digest",
    "email.week.more_in": "{n} more in {category} this week",
    "email.week.more_elsewhere": "Not in this email: {groups}. All are in the week's full list.",
    # --- the extractive briefing ------------------------------------------------------------
    "brief.one_paper": "Today's digest has one paper, in {category}",
    "brief.highlight": "From {category}",
    # The verb joining fields varies from one cross-category theme to the next.
    "brief.cross.1": "{label} links {categories} {cite}",
    "brief.cross.2": "{label} connects {categories} {cite}",
    "brief.cross.3": "{label} spans {categories} {cite}",
    "brief.cross_plural.1": "{label} link {categories} {cite}",
    "brief.cross_plural.2": "{label} connect {categories} {cite}",
    "brief.cross_plural.3": "{label} span {categories} {cite}",
    "brief.within": "In {category}, {count} papers take up {label} {cite}",
    "brief.shared": "{count} papers take up {label} {cite}",
    "brief.angle": "[{number}] on {angle}",
    "brief.angles": "{lead}, {angles}",
    "brief.angle_sep": ", ", "brief.angle_and": " and ",
    "brief.quoted": "{lead}: “{quote}” [{number}].",
    "brief.unquoted": "{lead}.",
    "brief.thread_one": "{count} thread", "brief.thread_many": "{count} threads",
    "brief.head_cross": "Today's {total} papers in {categories} share {threads} across fields.",
    "brief.head_highlight": "Today's {total} papers in {categories} share no common thread;"
                            " some highlights.",
    "brief.head_within": "No thread spans the fields of today's {total} papers ({categories}),"
                         " but some recur within one.",
    "brief.head_shared": "Today's {total} papers in {categories} share {threads}.",
    # A weekly digest's (brief.week.<key> stands in for brief.<key>, as email.week.* does).
    "brief.week.one_paper": "This week's digest has one paper, in {category}",
    "brief.week.head_cross": "This week's {total} papers in {categories} share {threads}"
                             " across fields.",
    "brief.week.head_highlight": "This week's {total} papers in {categories} share no common"
                                 " thread; some highlights.",
    "brief.week.head_within": "No thread spans the fields of this week's {total} papers"
                              " ({categories}), but some recur within one.",
    "brief.week.head_shared": "This week's {total} papers in {categories} share {threads}.",
    # How a model's refusal starts (regular expressions, "|"-separated; see briefing/check.py).
    "brief.refusals": r"I[’']?m sorry|I am sorry|sorry\b|I apologi[sz]e|I can(?:[’']?t|not| not)\b"
                      r"|I[’']?m unable|I am unable|I won[’']?t|as an AI|as a language model",
    # --- category display names (others show their code) ------------------------------------
    "category.cs.AI": "Artificial Intelligence",
    "category.cs.CL": "Computation and Language",
    "category.cs.CV": "Computer Vision",
    "category.cs.LG": "Machine Learning",
    "category.cs.IR": "Information Retrieval",
    "category.cs.RO": "Robotics",
    "category.stat.ML": "Machine Learning (Statistics)",
    "category.math.PR": "Probability",
    "category.math.OC": "Optimization and Control",
    "category.quant-ph": "Quantum Physics",
    "category.bioinformatics": "Bioinformatics",
    "category.genomics": "Genomics",
    # --- words a reader writes back ("|"-separated; matched case-insensitively) -------------
    "reply.unsubscribe": "unsubscribe|stop",
    # --- why the importer refuses a line of a subscriber CSV (services/import_rows.py) ----
    # Lower-case phrases, like the profile ones: the CLI report shows the English, the admin
    # page the admin's language.
    "import.line_too_long": "longer than {limit} characters (a cell may have at most"
                            " {cell_limit})",
    "import.no_header": "the file has no header line (email,name,categories,…)",
    "import.column_twice": "this column appears twice",
    "import.no_email_column": "the header has no 'email' column (found {found}; delimiter"
                              " {delimiter})",
    "import.not_csv": "not CSV: {detail}",
    "import.extra_cells": "{cells} cells for a header of {width} columns (a delimiter inside"
                          " an unquoted cell?)",
    "import.library": "{detail}",  # the library parser's own words
    "import.duplicate": "duplicate of line {first}",
    "import.cell_too_long": "cell longer than {limit} characters ({length})",
    "import.nul": "a NUL character at character {at} (a damaged file?)",
    "import.utf16": "the file is UTF-16 (Excel 'Unicode Text'); save it as 'CSV UTF-8 (comma"
                    " delimited)' and try again",
    "import.not_utf8": "not UTF-8 text: byte 0x{byte} at byte {at} of the line (probably a"
                       " Windows-1252/Latin-1 export); save the file as 'CSV UTF-8' and try"
                       " again",
    # --- why the library parser refuses a reader's file (domain/library.py, bibtex.py) -----
    # Lower-case phrases: the CLI and the CSV importer show the English, the preferences page
    # the reader's language. ``what``: one of the library.what.* phrases.
    "library.too_large": "the file is larger than {limit} MB",
    "library.line_too_long": "longer than {limit} characters",
    "library.nul": "a NUL character: not a text file",
    "library.empty": "the file is empty",
    "library.unknown_format": "not BibTeX, RIS, CSV (with a title column), JSONL, or a list of"
                              " arXiv ids / DOIs",
    "library.statement_empty": "the statement is empty",
    "library.statement_too_long": "the statement is longer than {limit} characters",
    "library.not_utf8": "not UTF-8 text (export the library as UTF-8)",
    "library.not_an_id": "not an arXiv id or DOI: {text}",
    "library.not_a_doi": "not a DOI: {text}",
    "library.no_title_or_id": "a record with neither a title nor an arXiv id or DOI",
    "library.not_json": "not JSON ({detail})",
    "library.json_not_object": "a JSON line must be an object with a title",
    "library.not_text": "{name} must be text, not {kind}",
    "library.extra_cells": "more cells than the header has columns",
    "library.not_csv": "not CSV ({detail})",
    "library.no_seeds": "no seeds in the file",
    "library.too_many_seeds": "more than {limit} seeds in one library",
    "library.expected": "expected {what}, found {found}",
    "library.expected_end": "expected {what}, found the end",
    "library.expected_char": "expected {char}, found {found}",
    "library.expected_char_end": "expected {char}, found the end",
    "library.what.entry_type": "an entry type after '@'",
    "library.what.string_name": "a @string name",
    "library.what.key": "a citation key",
    "library.what.field_name": "a field name",
    "library.what.value": "a field value",
    "library.unclosed": "this {char} is never closed",
    "library.not_followed": "@{kind} is not followed by '{{' or '('",
    "library.entry_unclosed": "this entry is never closed (a {open} in it without its"
                              " {close}?)",
    "library.ris_not_line": "not a RIS line (expected 'XX  - value')",
    "library.ris_no_end": "this record has no 'ER  -' before the next 'TY  -'",
    "library.ris_outside": "{tag} outside a record (no 'TY  -' before it)",
    "library.ris_unclosed": "this record is never closed ('ER  -' missing)",
    # --- why the subscriber validator refuses a field (domain/subscriber.py) -----------------
    # Lower-case phrases: CSV reports and CLI lines show them as they are (in English, for
    # the operator); the preferences page makes a sentence of them in the reader's language.
    "profile.name_too_long": "longer than {limit} characters",
    "profile.email_missing": "no address",
    "profile.email_invalid": "{detail}",  # email-validator's own words
    "profile.email_needs_smtputf8": "{detail} (this SMTP server may not take it; set"
                                    " DIGEST_SMTP_UTF8=true if it announces SMTPUTF8)",
    "profile.keywords_too_many": "at most {limit} keywords (found {count})",
    "profile.exclusions_too_many": "at most {limit} exclusions (found {count})",
    "profile.keywords_too_long": "each of the keywords may have at most {limit} characters"
                                 " ({item}… has {count})",
    "profile.exclusions_too_long": "each of the exclusions may have at most {limit} characters"
                                   " ({item}… has {count})",
    "profile.category_unknown": "unknown category {category} (known: {known})",
    "profile.category_unknown_none": "unknown category {category} (known: none configured)",
    "profile.categories_too_many": "at most {limit} categories",
    "profile.timezone_unknown": "unknown time zone {zone} (an IANA name such as"
                                " 'Europe/Berlin')",
    "profile.send_hour_range": "must be an hour from 0 to 23",
    "profile.language_unknown": "must be {choices}",
    "profile.max_papers_range": "must be a number from {low} to {high}",
    "profile.cadence_unknown": "must be {choices}",
    "profile.weekday_unknown": "unknown weekday {day} (mon, tue, … sun, or 0 for Monday to 6"
                               " for Sunday)",
    "profile.weekday_missing": "a weekly digest needs a weekday (mon, tue, … sun)",
    "profile.nothing_chosen": "give at least one category or keyword",
    # --- web pages ------------------------------------------------------------------------------
    "page.product": "Research Digest",
    "page.title_suffix": " · Research Digest",
    "page.unsubscribe.title": "Unsubscribe",
    "page.unsubscribe.heading": "Unsubscribe from the research digest?",
    "page.unsubscribe.lead": "You will no longer receive the morning digest at"
                             " <strong>{email}</strong>.",
    "page.unsubscribe.button": "Unsubscribe",
    "page.unsubscribe.hint": "Changed your mind? Just close this page: nothing happens until"
                             " you press the button.",
    "page.unsubscribed.title": "Unsubscribed",
    "page.unsubscribed.bounced_heading": "You no longer receive the digest",
    "page.unsubscribed.bounced_text": "Mail to <strong>{email}</strong> could not be delivered,"
                                      " so we stopped sending the digest there.\nIf your mailbox"
                                      " works again, please ask the digest's administrator to"
                                      " re-enable it.",
    "page.unsubscribed.heading": "You are unsubscribed",
    "page.unsubscribed.notice": "You will no longer receive the digest at"
                                " <strong>{email}</strong>.",
    "page.unsubscribed.mistake": "Unsubscribed by mistake?",
    "page.unsubscribed.undo": "Undo — keep sending me the digest",
    "page.resubscribed.title": "Subscribed again",
    "page.resubscribed.heading": "Welcome back",
    "page.resubscribed.notice": "You are subscribed again: the digest comes to"
                                " <strong>{email}</strong> as before.",
    "page.resubscribed.link": "Change your categories, keywords or send time",
    "page.day.title": "Your full list",
    "page.day.heading": "Your full list for {date}",
    "page.day.lead": "Every paper of this digest's day in your categories and keywords,"
                     " ranked as your digest ranks them: {count}.",
    "page.day.abstract": "Abstract",
    "page.day.in_email": "In your email",
    "page.day.empty": "No papers arrived in your categories or matched your keywords that day.",
    "page.day.view": "The digest as it was sent",
    # A weekly digest's (page.day.week.<key> stands in for page.day.<key>).
    "page.day.week.heading": "Your full list for the week to {date}",
    "page.day.week.lead": "Every paper of this digest's week in your categories and keywords,"
                          " ranked as your digest ranks them: {count}.",
    "page.day.week.empty": "No papers arrived in your categories or matched your keywords that"
                           " week.",
    "page.feedback.title": "Feedback",
    "page.feedback.ask_more": "Show me more papers like “{title}”?",
    "page.feedback.ask_less": "Show me fewer papers like “{title}”?",
    "page.feedback.yes_more": "Yes, more like this",
    "page.feedback.yes_less": "Yes, fewer like this",
    "page.feedback.hint": "Your answer changes the order of papers in your next digests.",
    "page.feedback_done.title": "Thank you",
    "page.feedback_done.heading": "Thank you",
    "page.feedback_done.noted_more": "Noted: more papers like “{title}”.",
    "page.feedback_done.noted_less": "Noted: fewer papers like “{title}”.",
    "page.feedback_done.effect_more": "From your next digest on, papers whose titles share words"
                                      " with this one\n{words}\nare placed higher within your"
                                      " categories.\nYour categories and keywords still decide"
                                      " which papers come at all.",
    "page.feedback_done.effect_less": "From your next digest on, papers whose titles share words"
                                      " with this one\n{words}\nare placed lower within your"
                                      " categories.\nYour categories and keywords still decide"
                                      " which papers come at all.",
    "page.feedback_done.words": "({words})",
    "page.feedback_done.preferences": "Manage your categories and keywords",
    "page.preferences.title": "Preferences",
    "page.preferences.heading": "Your digest preferences",
    "page.preferences.for": "For <strong>{email}</strong>",
    "page.preferences.saved": "Saved. Your next digest uses these preferences.",
    "page.preferences.not_saved": "Nothing was saved: please correct the fields marked below.",
    "page.preferences.inactive": "You are not receiving the digest at the moment; saving here"
                                 " does not subscribe you again.",
    "page.preferences.categories": "Categories",
    "page.preferences.no_sources": "No sources are configured yet.",
    "page.preferences.keywords": "Keywords",
    "page.preferences.keywords_hint": "One per line (or separated by “|”). A paper matching a"
                                      " keyword in its title or abstract is included from any"
                                      " category.",
    "page.preferences.exclusions": "Exclude papers mentioning",
    "page.preferences.exclusions_hint": "One per line. Exclusions win over everything else.",
    "page.preferences.send_hour": "Send at (hour)",
    "page.preferences.timezone": "Time zone",
    "page.preferences.timezone_hint": "For example Europe/Berlin, America/New_York,"
                                      " Asia/Shanghai.",
    "page.preferences.language": "Language",
    "page.preferences.max_papers": "Papers per digest",
    "page.preferences.max_papers_hint": "From {low} to {high}.",
    "page.preferences.cadence": "How often",
    "page.preferences.cadence.daily": "Every day",
    "page.preferences.cadence.weekly": "Once a week",
    "page.preferences.weekday": "Day of a weekly digest",
    "page.preferences.weekday_hint": "A weekly digest comes on this day at your send hour,"
                                     " with the best papers of the whole week.",
    "page.preferences.weekday.0": "Monday", "page.preferences.weekday.1": "Tuesday",
    "page.preferences.weekday.2": "Wednesday", "page.preferences.weekday.3": "Thursday",
    "page.preferences.weekday.4": "Friday", "page.preferences.weekday.5": "Saturday",
    "page.preferences.weekday.6": "Sunday",
    "page.preferences.save": "Save preferences",
    "page.library.heading": "Your library",
    "page.library.intro": "Papers you work on, and a sentence about your work: new papers"
                          " close to these come first in your digest.",
    "page.library.empty": "Your library is empty.",
    "page.library.statement_label": "What I work on",
    "page.library.unresolved": "Title not known yet",
    "page.library.remove": "Remove",
    "page.library.removed": "Removed from your library.",
    "page.library.not_removed": "That paper is no longer in your library.",
    "page.library.statement": "What I work on",
    "page.library.statement_hint": "A sentence or two about your research; kept as one more"
                                   " paper of your library.",
    "page.library.statement_save": "Save the statement",
    "page.library.statement_saved": "Statement saved.",
    "page.library.statement_empty": "Write a sentence first; to drop the statement, remove it"
                                    " from the list above.",
    "page.library.statement_too_long": "The statement is longer than {limit} characters.",
    "page.library.file": "Upload a library file",
    "page.library.file_hint": "BibTeX, RIS, CSV, JSON lines or a list of arXiv ids / DOIs, up"
                              " to {limit} MB. It replaces the papers listed above unless you"
                              " tick the box.",
    "page.library.append": "Add to my library (keep the papers already in it)",
    "page.library.upload": "Upload",
    "page.library.loaded": "Library saved: {seeds} papers, {resolved} of them found among the"
                           " papers we hold.",
    "page.library.no_file": "Choose a file to upload.",
    "page.library.bad_file_line": "Nothing was stored. Line {line} of the file: {reason}",
    "page.library.bad_file": "Nothing was stored: {reason}",
    # Texts the web face passes to pages.message(title, text) (moved there by a follow-up).
    "page.home.title": "Research Digest",
    "page.home.text": "The pages here are reached from the links in your digest email: manage"
                      " preferences, unsubscribe, or view a digest in your browser.",
    "page.invalid_link.title": "Link not valid",
    "page.invalid_link.text": "This link is not valid. It may have been cut short when it was"
                              " copied, or it is too old. Please use the link in your latest"
                              " digest email.",
    "page.not_one_click.title": "Not unsubscribed",
    "page.not_one_click.text": "This request did not say List-Unsubscribe=One-Click; nothing was"
                               " changed. Use the button on the unsubscribe page.",
    "page.test_digest.title": "Test digest",
    "page.test_digest.text": "This was a test digest sent to an administrator: its links are"
                             " disabled, so nothing changed for the subscriber it was made for.",
    "page.not_sent.title": "Not sent yet",
    "page.not_sent.text": "This digest has not been sent yet.",
    "page.form_expired.title": "Form expired",
    "page.form_expired.text": "This form has expired or was not sent from our page. Please go"
                              " back, reload the page and try again.",
    "page.not_found.title": "Not found",
    "page.not_found.text": "There is no page at this address.",
    "page.not_allowed.title": "Not allowed",
    "page.not_allowed.text": "This page does not accept that kind of request.",
    "page.refused.title": "Request refused",
    "page.refused.text": "This request could not be handled.",
    "page.bad_request.title": "Bad request",
    "page.bad_request.text": "This request is not valid.",
    "page.server_error.title": "Something went wrong",
    "page.server_error.text": "Sorry, something went wrong on our side. Please try again later.",
    "page.too_large.title": "Request too large",
    "page.too_large.text": "This request is larger than {limit} bytes; none of our forms sends"
                           " that.",
    "page.too_large_file.title": "Request too large",
    "page.too_large_file.text": "The file is larger than {limit} MB.",
    # --- the admin pages (in DIGEST_ADMIN_LANGUAGE) -----------------------------------------
    # Run kinds, message kinds, count names, CSV columns and stored errors stay as the data has
    # them: they are what logs, the CLI and the database say too.
    "page.admin.nav_overview": "Overview",
    "page.admin.nav_subscribers": "Subscribers",
    "page.admin.nav_import": "Import",
    "page.admin.logout": "Log out",
    "page.admin.login.heading": "Admin login",
    "page.admin.login.password": "Password",
    "page.admin.login.submit": "Log in",
    "page.admin.login.wrong": "Wrong password.",
    "page.admin.login.wait_seconds": "Too many wrong passwords. Try again in {n} seconds.",
    "page.admin.login.wait_minutes": "Too many wrong passwords. Try again in {n} minutes.",
    "page.admin.dashboard.heading": "Last 30 days",
    "page.admin.dashboard.intro": "Per UTC day, summed from the runs' counts as"
                                  " <code>digest-mailer runs</code> prints them.",
    "page.admin.dashboard.desc": "{first} to {last}, per UTC day. Totals: {totals}.",
    "page.admin.dashboard.total": "{name} {n}",
    "page.admin.dashboard.tip": "{day} · {series}: {value}",
    "page.admin.dashboard.numbers": "The numbers",
    "page.admin.dashboard.day": "Day (UTC)",
    "page.admin.dashboard.errors": "Errors",
    "page.admin.dashboard.digests.title": "Digests per day",
    "page.admin.dashboard.llm.title": "LLM calls and cache hits per day",
    "page.admin.dashboard.tokens.title": "LLM input tokens per day",
    "page.admin.dashboard.sources.title": "Sources failing per day",
    "page.admin.dashboard.series.sent": "Sent",
    "page.admin.dashboard.series.failed": "Failed",
    "page.admin.dashboard.series.empty": "Empty",
    "page.admin.dashboard.series.bounced": "Bounced",
    "page.admin.dashboard.series.llm_calls": "LLM calls",
    "page.admin.dashboard.series.llm_cache_hits": "Cache hits",
    "page.admin.dashboard.series.llm_input_tokens": "Input tokens",
    "page.admin.dashboard.series.sources_failing": "Sources failing",
    "page.admin.dashboard.series.fetch_failures": "Failed fetches",
    "page.admin.overview.title": "Admin",
    "page.admin.overview.heading": "Overview",
    "page.admin.overview.active": "{active} active of {everyone} subscribers",
    "page.admin.overview.list": "list",
    "page.admin.overview.import": "import a CSV",
    "page.admin.overview.sources": "Sources",
    "page.admin.overview.source": "Source",
    "page.admin.overview.category": "Category",
    "page.admin.overview.last_fetch": "Last fetch",
    "page.admin.overview.http": "HTTP",
    "page.admin.overview.items": "Items",
    "page.admin.overview.last_error": "Last error",
    "page.admin.overview.inactive": "inactive",
    "page.admin.overview.never": "never",
    "page.admin.overview.ok": "ok",
    "page.admin.overview.no_sources": "No sources.",
    "page.admin.overview.runs": "Recent runs",
    "page.admin.overview.kind": "Kind",
    "page.admin.overview.started": "Started (UTC)",
    "page.admin.overview.sent": "Sent",
    "page.admin.overview.failed": "Failed",
    "page.admin.overview.skipped": "Skipped",
    "page.admin.overview.llm_calls": "LLM calls",
    "page.admin.overview.all_counts": "All counts",
    "page.admin.overview.errors": "Errors",
    "page.admin.overview.no_runs": "No runs yet.",
    "page.admin.overview.messages": "Reader messages",
    "page.admin.overview.unverified_one": "1 bounce or unsubscribe message could not be traced"
                                          " to a digest we sent and changed nobody: a forgery,"
                                          " or a reader writing from elsewhere. Check it below;"
                                          " change a subscriber by hand on the"
                                          " <a href=\"/admin/subscribers\">list</a> if it is"
                                          " genuine.",
    "page.admin.overview.unverified_many": "{n} bounce or unsubscribe messages could not be"
                                           " traced to a digest we sent and changed nobody: a"
                                           " forgery, or a reader writing from elsewhere. Check"
                                           " each below; change a subscriber by hand on the"
                                           " <a href=\"/admin/subscribers\">list</a> if it is"
                                           " genuine.",
    "page.admin.overview.received": "Received",
    "page.admin.overview.from": "From",
    "page.admin.overview.subject": "Subject",
    "page.admin.overview.text": "Text",
    "page.admin.overview.nobody_changed": "nobody changed",
    "page.admin.overview.no_messages": "No messages.",
    "page.admin.subscribers.heading": "Subscribers",
    "page.admin.subscribers.query": "Contains",
    "page.admin.subscribers.status": "Status",
    "page.admin.subscribers.any": "any",
    "page.admin.subscribers.search": "Search",
    "page.admin.subscribers.count_one": "1 subscriber",
    "page.admin.subscribers.count_many": "{n} subscribers",
    "page.admin.subscribers.page_of": "page {page} of {pages}",
    "page.admin.subscribers.email": "Email",
    "page.admin.subscribers.name": "Name",
    "page.admin.subscribers.categories": "Categories",
    "page.admin.subscribers.keywords": "Keywords",
    "page.admin.subscribers.send": "Send",
    "page.admin.subscribers.send_at": "{hour}h {zone} · {language}",
    "page.admin.subscribers.none": "No subscriber matches.",
    "page.admin.subscribers.previous": "← previous",
    "page.admin.subscribers.next": "next →",
    "page.admin.status.active": "active",
    "page.admin.status.unsubscribed": "unsubscribed",
    "page.admin.status.bounced": "bounced",
    "page.admin.import.heading": "Import subscribers",
    "page.admin.import.imported_summary": "Imported: {added} added, {updated} updated,"
                                          " {unchanged} unchanged, {kept} left unsubscribed,"
                                          " {rejected} rejected",
    "page.admin.import.added": "Added",
    "page.admin.import.updated": "Updated",
    "page.admin.import.unchanged": "Unchanged",
    "page.admin.import.kept_unsubscribed": "Left unsubscribed",
    "page.admin.import.rejected": "Rejected rows",
    "page.admin.import.line": "Line",
    "page.admin.import.column": "Column",
    "page.admin.import.reason": "Reason",
    "page.admin.import.file": "CSV file",
    "page.admin.import.hint": "Columns: {columns}. List cells separate items with “|”, or"
                              " “;” or “,”. Existing subscribers are updated; someone who"
                              " unsubscribed stays unsubscribed. You see a preview first.",
    "page.admin.import.upload": "Upload and preview",
    "page.admin.import.no_file": "Choose a CSV file to upload.",
    "page.admin.import.not_utf8": "The file is not UTF-8 text; save it as CSV UTF-8 and try"
                                  " again.",
    "page.admin.status.pending": "pending",
    # --- sign-up (double opt-in): the emails, then the pages ---
    "email.signup.hello": "Hello,",
    "email.signup.hello_name": "Hello {name},",
    "email.signup.link_hint": "Or open this link:",
    "email.signup.confirm_subject": "Confirm your subscription to the Research Digest",
    "email.signup.confirm_text": "Someone, we hope you, asked for the Research Digest at this"
                                 " address: a morning email of the new papers in your fields."
                                 " Press the button to confirm; until you do, nothing is sent.",
    "email.signup.confirm_expiry": "The link works for {hours} hours.",
    "email.signup.confirm_button": "Confirm my subscription",
    "email.signup.not_you": "Not you? Ignore this email: without the confirmation nothing more"
                            " is sent.",
    "email.signup.already_subject": "You are already subscribed to the Research Digest",
    "email.signup.already_text": "Someone asked to subscribe this address to the Research"
                                 " Digest, and you already receive it: nothing has changed."
                                 " Your categories, keywords and send time are on your"
                                 " preferences page.",
    "email.signup.already_button": "Manage my preferences",
    "email.signup.welcome_subject": "Welcome to the Research Digest",
    "email.signup.welcome_first": "You are subscribed. Your first digest comes on {date} at"
                                  " about {time} ({zone}), then every morning at that time.",
    "email.signup.welcome_now": "You are subscribed. Your first digest is on its way now,"
                                " with the papers of the last days; the next comes on {date}"
                                " at about {time} ({zone}), then every morning at that time.",
    "email.week.signup.welcome_first": "You are subscribed. Your first digest comes on {date}"
                                       " at about {time} ({zone}), then every {weekday} at"
                                       " that time, with the week's best papers.",
    "email.week.signup.welcome_now": "You are subscribed. Your first digest is on its way"
                                     " now, with the papers of the last days; the next comes"
                                     " on {date} at about {time} ({zone}), then every"
                                     " {weekday} at that time.",
    "email.signup.welcome_what": "Each one lists the new papers in your categories and"
                                 " keywords ({chosen}), with a short briefing on top.",
    "email.signup.welcome_change": "Change your categories, keywords, time or language on"
                                   " your preferences page whenever you like; every digest"
                                   " has an unsubscribe link.",
    "email.signup.welcome_button": "My preferences",
    "email.signup.welcome_unsubscribe": "You receive this email because you confirmed your"
                                        " subscription.",
    # --- the public archive (DIGEST_PUBLIC_ARCHIVE) ---
    "page.archive.title": "Archive",
    "page.archive.heading": "What was announced, day by day",
    "page.archive.lead": "The new papers each source announced over the last 60 days, by"
                         " category: the same for everyone, never anyone's digest.",
    "page.archive.feed": "Atom feed",
    "page.archive.empty": "No papers yet.",
    "page.archive.other": "Other",
    "page.archive.back": "All days",
    "page.archive.day_heading": "Papers announced on {date}",
    "page.archive.day_empty": "No papers were announced that day.",
    "page.archive.feed_entry": "{date}: {count} papers",
    "page.signup.title": "Subscribe",
    "page.signup.heading": "Subscribe to the Research Digest",
    "page.signup.lead": "A morning email of the new papers in your fields, with a short"
                        " briefing on top. We first send you an email to confirm the address;"
                        " nothing else comes until you do.",
    "page.signup.switch": "中文",
    "page.signup.email": "Email address",
    "page.signup.name": "Name (optional)",
    "page.signup.categories_hint": "Choose one or more, or give keywords below.",
    "page.signup.keywords_hint": "Optional. One per line: a paper matching a keyword is"
                                 " included whatever its category.",
    "page.signup.zones_first": "Usual for your language",
    "page.signup.zones_all": "All time zones",
    "page.signup.honeypot": "Leave this field empty",
    "page.signup.submit": "Subscribe",
    "page.signup.again": "Please check your details and press Subscribe to send them.",
    "page.signup.not_sent": "Nothing was sent: please correct the fields marked below.",
    "page.signup.privacy": "Your address is used only to send the digest; every email has an"
                           " unsubscribe link.",
    "page.signup_inbox.title": "Check your inbox",
    "page.signup_inbox.text": "If this address can receive the digest, an email is on its way"
                              " to it: open it and follow its link. No email within a few"
                              " minutes? Look in the spam folder.",
    "page.signup_busy.title": "Too many sign-ups",
    "page.signup_busy.text": "Too many sign-ups came from your network in the last hour."
                             " Please try again in {minutes} minutes.",
    "page.signup_unsent.title": "Not sent",
    "page.signup_unsent.text": "We could not send the email just now. Please try again in a"
                               " few minutes.",
    "page.confirm.title": "Confirm your subscription",
    "page.confirm.heading": "Confirm your subscription",
    "page.confirm.lead": "Send the Research Digest to <strong>{email}</strong>?",
    "page.confirm.button": "Yes, subscribe me",
    "page.confirm.hint": "Nothing happens until you press the button.",
    "page.confirm.done_heading": "You are subscribed",
    "page.confirm.first": "Your first digest comes on {date} at about {time} ({zone}).",
    "page.confirm.first_now": "Your first digest is on its way now; the next comes on {date}"
                              " at about {time} ({zone}).",
    "page.confirm.welcome": "A welcome email is on its way with what to expect.",
    "page.confirm.done": "<strong>{email}</strong> is confirmed: the digest comes every"
                         " morning at your send hour.",
    "page.confirm.week.first": "Your first digest comes on {date} at about {time} ({zone}),"
                               " then every {weekday}.",
    "page.confirm.week.first_now": "Your first digest is on its way now; the next comes on"
                                   " {date} at about {time} ({zone}), then every {weekday}.",
    "page.confirm.week.done": "<strong>{email}</strong> is confirmed: the digest comes every"
                              " {weekday} at your send hour.",
    "page.confirm.preferences": "Choose your categories, keywords and send time",
    "page.confirm.expired_heading": "This link has expired",
    "page.confirm.expired": "Confirmation links work for two days. Sign up again to get a new"
                            " one.",
    "page.confirm.signup_again": "Sign up again",
    "page.admin.nav_sources": "Sources",
    "page.admin.sources.heading": "Sources",
    "page.admin.sources.add_heading": "Add a source",
    "page.admin.sources.add_hint": "The feed is fetched once now: one that fails or does not"
                                   " parse is refused with the reason, and nothing is stored.",
    "page.admin.sources.url": "Feed URL",
    "page.admin.sources.label": "Label",
    "page.admin.sources.label_hint": "Shown on each paper, e.g. “arXiv (cs.CV)”.",
    "page.admin.sources.category": "Category code",
    "page.admin.sources.category_hint": "One code without spaces, e.g. cs.CV: readers choose"
                                        " it.",
    "page.admin.sources.kind": "Kind",
    "page.admin.sources.kind_auto": "found by the test fetch",
    "page.admin.sources.add": "Test and add",
    "page.admin.sources.refused": "Nothing was stored.",
    "page.admin.sources.state": "State",
    "page.admin.sources.enabled": "enabled",
    "page.admin.sources.disabled": "disabled",
    "page.admin.sources.none": "No sources yet.",
    "page.admin.sources.added": "Added. The test fetch found {n} items.",
    "page.admin.sources.saved": "Saved.",
    "page.admin.sources.moved": "Profiles that followed the new category code:",
    "page.admin.sources.enabled_now": "Enabled: it is fetched again and its category is"
                                      " offered.",
    "page.admin.sources.disabled_now": "Disabled: it is not fetched and its category is not"
                                       " offered; the profiles that have it keep it.",
    "page.admin.sources.settings": "Settings",
    "page.admin.sources.save": "Save",
    "page.admin.sources.enable": "Enable",
    "page.admin.sources.disable": "Disable",
    "page.admin.sources.fetch_now": "Fetch now",
    "page.admin.sources.fetched": "Fetched: {n} items, {count} of them new.",
    "page.admin.sources.not_modified": "Fetched: not modified since the last fetch.",
    "page.admin.sources.fetch_failed": "The fetch failed: {error}",
    "page.admin.sources.remove_heading": "Remove this source",
    "page.admin.sources.remove_hint": "Its papers stay (past digests name them). Subscribers"
                                      " lose its category unless another source has it.",
    "page.admin.sources.remove_confirm": "Yes, remove it",
    "page.admin.sources.confirm_needed": "Tick the box to confirm the removal.",
    "page.admin.sources.remove": "Remove",
    "page.admin.sources.removed": "Removed: {label}.",
    "page.admin.sources.lost_none": "No subscriber had the category {category}.",
    "page.admin.sources.lost_one": "1 subscriber lost the category {category}:",
    "page.admin.sources.lost_many": "{n} subscribers lost the category {category}:",
    "page.admin.sources.kept": "Another source still has the category {category}: no profile"
                               " changed.",
    "page.admin.sources.emptied": "Now with no category at all:",
    "page.admin.sources.history": "Last fetches",
    "page.admin.sources.when": "When (UTC)",
    "page.admin.sources.trigger": "By",
    "page.admin.sources.trigger.run": "schedule",
    "page.admin.sources.trigger.now": "fetch now",
    "page.admin.sources.trigger.add": "test fetch",
    "page.admin.sources.items": "Items",
    "page.admin.sources.new": "New",
    "page.admin.sources.seconds": "Seconds",
    "page.admin.sources.error": "Error",
    "page.admin.sources.unchanged": "not modified",
    "page.admin.sources.no_history": "Not fetched yet.",
    "page.admin.sources.back": "← all sources",
    "source.url_missing": "give the feed's URL",
    "source.url_too_long": "longer than {limit} characters",
    "source.url_spaces": "a URL has no spaces or invisible characters",
    "source.url_invalid": "not a URL",
    "source.url_scheme": "a feed URL must use {allowed}, not {scheme}",
    "source.url_no_host": "the URL names no host",
    "source.url_credentials": "a URL with a user name or password is refused (every admin"
                              " page would show it)",
    "source.label_missing": "give a label",
    "source.label_too_long": "longer than {limit} characters",
    "source.category_missing": "give a category code",
    "source.category_spaces": "a category code has no spaces (e.g. cs.CV)",
    "source.category_too_long": "longer than {limit} characters",
    "source.category_chars": "a category code is letters, digits and . - + _ (e.g. cs.CV)",
    "source.kind_unknown": "unknown kind {kind} (known: {known})",
    "source.test_fetch_failed": "the test fetch failed: {reason}",
    "source.unknown": "no source {ref}",
    "page.admin.import.preview_summary": "Dry run, nothing written yet: {added} to add,"
                                         " {updated} to update, {unchanged} unchanged, {kept}"
                                         " left unsubscribed, {rejected} rejected",
    "page.admin.import.refused_summary": "Refused, nothing written: {rejected} rows rejected."
                                         " Fix them and upload again, or import the good rows.",
    "page.admin.import.fields": "fields",
    "page.admin.import.confirm_all": "Import (all or nothing)",
    "page.admin.import.confirm_good": "Import the good rows only",
    "page.admin.import.confirm_hint": "“All or nothing” writes nothing while any row is"
                                      " rejected; “the good rows only” adds and updates the"
                                      " others and leaves the rejected lines out.",
    "page.admin.import.expired": "This preview has expired or was already imported; upload"
                                 " the file again.",
    "page.admin.import.conflict": "Some of these subscribers were added meanwhile by someone"
                                  " else; nothing was written. Confirm again.",
    "page.admin.subscribers.field": "In",
    "page.admin.subscribers.any_field": "any field",
    "page.admin.subscribers.export": "Export CSV",
    "page.admin.field.email": "Email",
    "page.admin.field.name": "Name",
    "page.admin.field.categories": "Categories",
    "page.admin.field.keywords": "Keywords",
    "page.admin.field.excluded_keywords": "Excluded keywords",
    "page.admin.field.language": "Language",
    "page.admin.field.timezone": "Time zone",
    "page.admin.field.status": "Status",
    "page.admin.subscriber.profile": "Profile",
    "page.admin.subscriber.max_papers": "Digest size",
    "page.admin.subscriber.default": "the setting",
    "page.admin.subscriber.since": "Subscriber since (UTC)",
    "page.admin.subscriber.resubscribe": "Resubscribe",
    "page.admin.subscriber.reason": "Reason (kept in the status history)",
    "page.admin.subscriber.resubscribe_submit": "Resubscribe",
    "page.admin.subscriber.reason_missing": "Say why this subscriber is resubscribed: the"
                                            " reason is kept in the history.",
    "page.admin.subscriber.pending": "This address signed up and has not confirmed it: only"
                                     " its owner can make it active, by the link in the"
                                     " confirmation email.",
    "page.admin.subscriber.resubscribed": "Resubscribed: the subscriber is active again.",
    "page.admin.subscriber.history": "Status history",
    "page.admin.subscriber.when": "When (UTC)",
    "page.admin.subscriber.change": "Status",
    "page.admin.subscriber.by": "By",
    "page.admin.subscriber.no_history": "No status change recorded.",
    "page.admin.subscriber.today": "Today's digest",
    "page.admin.subscriber.open_preview": "Open the preview of today's digest",
    "page.admin.subscriber.test_to": "Send a test digest to",
    "page.admin.subscriber.test_send": "Send test digest",
    "page.admin.subscriber.test_hint": "Today's digest of this subscriber, marked [test] and"
                                       " its links disabled, through the configured mail"
                                       " server; no delivery is recorded.",
    # For a weekly subscriber (page.admin.subscriber.week.<key> stands in for …<key>).
    "page.admin.subscriber.week.today": "This week's digest",
    "page.admin.subscriber.week.open_preview": "Open the preview of this week's digest",
    "page.admin.subscriber.week.test_hint": "This week's digest of this subscriber, marked"
                                            " [test] and its links disabled, through the"
                                            " configured mail server; no delivery is recorded.",
    "page.admin.subscriber.test_no_address": "Type the address the test digest goes to.",
    "page.admin.subscriber.test_bad_address": "Not an address to send to: {reason}",
    "page.admin.subscriber.test_failed": "The mail server refused the test digest: {reason}",
    "page.admin.subscriber.test_sent": "Test digest sent to {address}.",
    "page.admin.subscriber.votes": "Votes",
    "page.admin.subscriber.paper": "Paper voted on",
    "page.admin.subscriber.vote": "Vote",
    "page.admin.subscriber.no_votes": "No votes.",
    "page.admin.subscriber.messages": "Replies and bounces",
    "page.admin.subscriber.kind": "Kind",
    "page.admin.subscriber.subject": "Subject",
    "page.admin.subscriber.text": "Text",
    "page.admin.subscriber.no_messages": "No messages.",
    "page.admin.vote.more": "more like this",
    "page.admin.vote.less": "less like this",
}
