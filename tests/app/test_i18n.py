"""Languages over HTTP (Flask test client, CSRF on): English by default, Simplified Chinese once
chosen with the picker (remembered in a cookie) or asked for by the browser; `<html lang>` follows;
names and agency wording keep `lang="en"` inside a Chinese page; the picker goes back only to a
page on this site; staff pages stay English; form errors come in the citizen's language."""

from __future__ import annotations

import base64
import re

import pytest

from app.i18n import LANGUAGE_COOKIE
from tests.oauth import flow

ZH = "zh_Hans_SG"
APP_NAME = "Housing grant application"  # the agency app tests/oauth/flow.py registers
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def back(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


def choose_chinese(client, path: str = "/") -> None:
    response = client.get(f"/language/{ZH}", query_string={"back": back(path)})
    assert response.status_code == 303 and response.headers["Location"] == path
    assert f"{LANGUAGE_COOKIE}={ZH}" in response.headers["Set-Cookie"]


def test_english_by_default_with_a_picker_offering_chinese(client):
    response = client.get("/")
    assert {"Cookie", "Accept-Language"} <= set(response.vary), "caches must tell languages apart"
    page = response.text
    assert html_lang(page) == "en"
    assert "Share your government records, with your consent" in page
    assert '<span lang="en" aria-current="true">English</span>' in page
    link = re.search(
        r'<a class="govuk-link" lang="zh-Hans-SG" hreflang="zh-Hans-SG"\s+href="([^"]+)">中文</a>', page
    )
    assert link, "the picker links to Chinese, marked with its language"
    assert link.group(1) == f"/language/{ZH}?back={back('/')}"


def test_choosing_chinese_is_remembered_across_pages(client):
    choose_chinese(client)
    home = client.get("/").text
    assert html_lang(home) == "zh-Hans-SG"
    assert "经您同意" in home and "分享您的政府记录" in home
    assert "Share your government records" not in home
    assert '<span lang="zh-Hans-SG" aria-current="true">中文</span>' in home
    sign_in = client.get("/citizen/sign-in").text
    assert html_lang(sign_in) == "zh-Hans-SG" and "登录 Consentry" in sign_in
    status = client.get("/status").text
    assert html_lang(status) == "zh-Hans-SG" and "服务状态" in status

    response = client.get("/language/en", query_string={"back": back("/citizen/sign-in")})
    assert response.status_code == 303 and response.headers["Location"] == "/citizen/sign-in"
    page = client.get("/citizen/sign-in").text
    assert html_lang(page) == "en" and "Sign in to Consentry" in page


def test_the_browser_language_is_used_until_one_is_chosen(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert html_lang(page) == "zh-Hans-SG"
    client.get("/language/en", query_string={"back": back("/")})
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert html_lang(page) == "en", "a choice made on the site beats the browser's"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "not a path", "/\tx"],
)
def test_the_picker_never_leaves_the_site(client, target):
    response = client.get(f"/language/{ZH}", query_string={"back": back(target)})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_an_unknown_language_is_not_remembered_and_a_broken_return_goes_home(client):
    response = client.get("/language/xx", query_string={"back": back("/status")})
    assert response.status_code == 303 and response.headers["Location"] == "/status"
    assert "Set-Cookie" not in response.headers
    assert html_lang(client.get("/").text) == "en"
    response = client.get(f"/language/{ZH}", query_string={"back": "%%%not-base64"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_picker_keeps_the_query_of_the_page_it_was_on(client):
    page = client.get("/citizen/sign-in?next=/citizen/profile").text
    token = re.search(r'hreflang="zh-Hans-SG"\s+href="/language/zh_Hans_SG\?back=([\w-]+)"', page).group(1)
    response = client.get(f"/language/{ZH}", query_string={"back": token})
    assert response.headers["Location"] == "/citizen/sign-in?next=/citizen/profile"
    assert html_lang(client.get(response.headers["Location"]).text) == "zh-Hans-SG"


def test_staff_pages_stay_english_whatever_the_choice(client):
    choose_chinese(client)
    page = client.get("/staff/sign-in").text
    assert html_lang(page) == "en"
    assert 'hreflang="zh-Hans-SG"' not in page, "no picker where nothing is translated"


def test_form_errors_come_in_the_citizens_language(client):
    choose_chinese(client, "/citizen/sign-in")
    form = client.get("/citizen/sign-in").text
    token = CSRF_INPUT.search(form).group(1)
    response = client.post(
        "/citizen/sign-in", data={"csrf_token": token, "uinfin": "", "password": "", "code": "12"}
    )
    assert response.status_code == 400
    page = response.text
    assert html_lang(page) == "zh-Hans-SG"
    assert "出现问题" in page
    assert "请输入您的身份证或准证号码" in page and "请输入您的密码" in page
    assert "请输入身份验证应用程序显示的6位数代码" in page
    assert "Enter your NRIC or FIN" not in page


def test_a_bad_link_gets_its_error_page_in_chinese(client):
    choose_chinese(client)
    response = client.get("/citizen/no-such-page")
    assert response.status_code == 404
    assert html_lang(response.text) == "zh-Hans-SG" and "找不到页面" in response.text


def test_the_portal_reads_in_chinese_with_names_marked_english(client, citizen):
    flow.sign_in(client, citizen.id)
    choose_chinese(client, "/citizen/profile")
    page = client.get("/citizen/profile").text
    assert html_lang(page) == "zh-Hans-SG"
    assert "我的个人资料" in page and "按政府机构分列的资料" in page
    assert "国民身份登记处" in page, "agency names from the catalogue, translated"
    assert "正式姓名" in page, "attribute labels from the catalogue, translated"
    name = re.search(r'app-wrap"><span lang="en">([^<]+)</span></dd>', page)
    assert name, "the citizen's name keeps lang=en inside the Chinese summary"
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", page), "dates in the Chinese long form"
    assert "My profile" not in page


def test_the_consent_screen_reads_in_chinese(client, citizen, verifier):
    path = flow.consent_path(flow.authorize(client, verifier))
    flow.sign_in(client, citizen.id)
    choose_chinese(client, path)
    page = client.get(path).text
    assert html_lang(page) == "zh-Hans-SG"
    assert f'<span lang="en">{APP_NAME}</span> 要求获取您的资料' in page
    assert "将分享的资料" in page and "记住此决定" in page and "不分享" in page
    assert "is asking for your information" not in page


def test_the_json_api_keeps_english_labels_whatever_the_cookie(client, citizen, verifier):
    """The page is Chinese, but a program reading the citizen's JSON gets the catalogue's words."""
    assert flow.get_code(client, citizen.id, verifier)
    choose_chinese(client)
    page = client.get("/citizen/consents").text
    assert "正式姓名" in page
    body = client.get("/api/citizen/consents").get_json()
    labels = {item["label"] for consent in body["consents"] for item in consent["approved"]}
    assert "Principal name" in labels and "正式姓名" not in labels
