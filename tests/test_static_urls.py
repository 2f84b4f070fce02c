"""The page frame links its scripts and styles under the application's root, worked out
once per root (portal.templating.static_url)."""


def test_the_frame_links_its_files(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/static/portal.css"' in page
    assert 'src="/static/vendor/htmx.min.js"' in page
    assert 'src="/static/countdown.js"' in page


def test_each_application_root_gets_its_own_links(client):
    client.get("/login")
    mounted = client.get("/login", environ_overrides={"SCRIPT_NAME": "/portal"})
    page = mounted.get_data(as_text=True)
    assert 'href="/portal/static/portal.css"' in page
    plain = client.get("/login").get_data(as_text=True)
    assert 'href="/static/portal.css"' in plain
