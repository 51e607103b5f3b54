"""The name template language: syntax, filters, errors with columns, did-you-mean."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.errors import ConfigError
from syncd.template import FILTERS, Template, TemplateError, compile_template, words

KNOWN = ("key", "path", "sync", "target")


def render(text: str, **values: str) -> str:
    return compile_template(text).render(values)


def error(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        compile_template(text)
    return info.value


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("upper", "db.Password", "DB.PASSWORD"),
        ("lower", "DB.Password", "db.password"),
        ("snake", "dbPassword", "db_password"),
        ("snake", "DB-Password", "db_password"),
        ("snake", "HTTPServer", "http_server"),
        ("snake", "app/db.password key", "app_db_password_key"),
        ("snake", "myS3Bucket", "my_s3_bucket"),
        ("snake", "__a--b__", "a_b"),
        ("kebab", "dbPassword", "db-password"),
        ("kebab", "DB_PASSWORD", "db-password"),
        ("env", "db.password", "DB_PASSWORD"),
        ("env", "dbPassword", "DB_PASSWORD"),
        ("env", "api-key/v2", "API_KEY_V2"),
        ("basename", "app/db/password", "password"),
        ("basename", "password", "password"),
        ("basename", "app/", ""),
        ("dirname", "app/db/password", "app/db"),
        ("dirname", "password", ""),
    ],
)
def test_each_filter_transforms_its_input(name: str, value: str, expected: str) -> None:
    """Each filter maps a sample input to the documented output, alone and through a template."""
    assert FILTERS[name](value) == expected
    assert render(f"{{v|{name}}}", v=value) == expected


def test_exactly_the_seven_documented_filters_exist() -> None:
    """FILTERS lists the seven filters, each with a description the docs can show."""
    assert set(FILTERS) == {"upper", "lower", "snake", "kebab", "env", "basename", "dirname"}
    assert all(FILTERS[name].__doc__ for name in FILTERS)


def test_filters_cannot_be_changed() -> None:
    """FILTERS is read-only, so no caller can add or replace a filter."""
    with pytest.raises(TypeError):
        FILTERS["slug"] = str.lower  # type: ignore[index]


def test_snake_kebab_and_env_share_one_word_split() -> None:
    """snake, kebab and env differ only in how they join and case the same words."""
    assert words("HTTPServer.dbPassword") == ["HTTP", "Server", "db", "Password"]
    text = "HTTPServer.dbPassword"
    assert FILTERS["kebab"](text) == FILTERS["snake"](text).replace("_", "-")
    assert FILTERS["env"](text) == FILTERS["snake"](text).upper()


def test_filters_apply_left_to_right() -> None:
    """A chain of filters applies them in the order written."""
    assert render("{path|basename|env}", path="app/db.password") == "DB_PASSWORD"
    assert render("{path|env|basename}", path="app/db.password") == "APP_DB_PASSWORD"


def test_spaces_around_names_and_bars_are_ignored() -> None:
    """`{ key | upper }` means the same as `{key|upper}`."""
    template = compile_template("prod/{ sync }/{ key | upper }")
    assert template.variables == frozenset({"sync", "key"})
    assert template.render({"sync": "app", "key": "db"}) == "prod/app/DB"


def test_doubled_braces_are_literal_braces() -> None:
    """`{{` and `}}` render as a single `{` and `}` and are not placeholders."""
    template = compile_template("{{literal}}/{key}")
    assert template.variables == frozenset({"key"})
    assert template.render({"key": "k"}) == "{literal}/k"


def test_template_knows_its_variables_and_whether_it_is_literal() -> None:
    """`variables` names every placeholder once; `is_literal` is true only without placeholders."""
    template = compile_template("{sync}/{key}/{key|env}")
    assert template.variables == frozenset({"sync", "key"})
    assert not template.is_literal
    assert compile_template("fixed/{{name}}").is_literal


def test_template_is_frozen_and_equal_by_text() -> None:
    """Two templates from the same text are equal, and neither can be changed."""
    a, b = compile_template("{key}"), Template("{key}")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.text = "x"  # type: ignore[misc]


def test_template_error_is_a_config_error() -> None:
    """A bad template is a configuration error, fatal before any call."""
    assert issubclass(TemplateError, ConfigError)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("prod{key", "unclosed '{' at column 5", 5),
        ("{a{b}", "unclosed '{' at column 1", 1),
        ("prod/}", "unmatched '}' at column 6", 6),
        ("{key}}", "unmatched '}' at column 6", 6),
        ("ab{}", "empty placeholder at column 3", 3),
        ("ab{  }", "empty placeholder at column 3", 3),
        ("{ |upper}", "missing variable name before '|' at column 3", 3),
        ("{key|}", "empty filter at column 6", 6),
        ("{key||upper}", "empty filter at column 6", 6),
        ("{my key}", "invalid variable name 'my key' at column 2", 2),
    ],
)
def test_syntax_errors_name_their_column(text: str, message: str, column: int) -> None:
    """Every syntax error says what is wrong and carries the 1-based column where it is."""
    exc = error(text)
    assert str(exc).startswith(message)
    assert exc.column == column


def test_unknown_filter_suggests_the_closest_one() -> None:
    """A misspelt filter is an error naming it and the filter it was probably meant to be."""
    exc = error("{key | uppr}")
    assert str(exc) == "unknown filter 'uppr'; did you mean 'upper'?"
    assert exc.column == 8


def test_unknown_filter_without_a_close_match_lists_all_filters() -> None:
    """A filter like nothing known is an error listing every filter."""
    exc = error("{key|slug}")
    assert str(exc) == "unknown filter 'slug' (known: basename, dirname, env, kebab, lower, snake, upper)"


def test_check_rejects_a_variable_not_allowed_with_did_you_mean() -> None:
    """check names the unknown variable, the likely intended one and every known one."""
    template = compile_template("prod/{kye}")
    with pytest.raises(TemplateError) as info:
        template.check(KNOWN)
    assert str(info.value) == (
        "unknown variable 'kye' in name template; did you mean 'key'? (known: key, path, sync, target)"
    )
    assert info.value.column == 7


def test_check_without_a_close_match_lists_the_known_variables() -> None:
    """A variable like nothing allowed gets the list of allowed variables and no suggestion."""
    with pytest.raises(TemplateError, match=r"^unknown variable 'zzz' in name template \(known: key, path"):
        compile_template("{zzz}").check(KNOWN)


def test_check_accepts_allowed_variables() -> None:
    """check returns quietly when every variable is allowed, and for a literal template."""
    assert compile_template("{sync}/{key|env}").check(KNOWN) is None
    assert compile_template("fixed").check(()) is None


def test_render_without_a_value_names_the_missing_variable() -> None:
    """Rendering without a value for a placeholder raises an error naming that variable."""
    with pytest.raises(TemplateError, match="'key'") as info:
        compile_template("{sync}/{key}").render({"sync": "app"})
    assert info.value.column == 9


def test_render_ignores_extra_values() -> None:
    """Values for variables the template does not use are ignored."""
    assert render("{key}", key="k", sync="unused") == "k"


literal_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).map(
    lambda s: s.replace("{", "{{").replace("}", "}}")
)


@given(literal_text)
def test_a_template_without_placeholders_renders_its_text_unescaped(text: str) -> None:
    """A template with only literal text renders that text with `{{` and `}}` undone."""
    template = compile_template(text)
    assert template.is_literal
    assert template.render({}) == text.replace("{{", "{").replace("}}", "}")


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_./ ", max_size=40))
def test_env_output_is_always_an_environment_variable_name(text: str) -> None:
    """For ASCII letters, digits and separators, env yields only A-Z, 0-9 and '_'."""
    assert re.fullmatch(r"[A-Z0-9_]*", FILTERS["env"](text))


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_./ ", max_size=40))
def test_snake_is_stable_under_itself(text: str) -> None:
    """Applying snake to its own output changes nothing."""
    once = FILTERS["snake"](text)
    assert FILTERS["snake"](once) == once


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("prod/payments/db", "prod/payments/db"),
        ("prod/{relpath}", "prod/*"),
        ("{sync}/{key|upper}", "*/*"),
        ("{sync}{key}", "*"),
        ("literal {{braces}}/{name}", "literal {braces}/*"),
    ],
)
def test_pattern_puts_a_wildcard_for_every_placeholder(text: str, pattern: str) -> None:
    assert compile_template(text).pattern() == pattern
