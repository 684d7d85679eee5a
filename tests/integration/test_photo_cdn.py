"""Photos through CloudFront in AWS (issue 27): the view copies and thumbnails of the private photo bucket
are served by a distribution that reads them through origin access control and accepts only URLs
signed with the stack's key group; the functions that write photo URLs are told where and how to sign."""

from __future__ import annotations

import pytest

from chalicelib import photos
from infra import chalice_sam, template


@pytest.fixture(scope="module")
def packaged() -> dict:
    return template.packaged("prod", app=chalice_sam.load_app())


def resources(packaged: dict) -> dict:
    return packaged["Resources"]


def test_views_and_thumbnails_need_a_signature_of_the_stacks_key_group(packaged):
    config = resources(packaged)["PhotoDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["PhotoBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["PhotoOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac = resources(packaged)["PhotoOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {"views/*", "thumbs/*"}
    assert template.PHOTO_CDN_PREFIXES == (photos.VIEW_PREFIX, photos.THUMB_PREFIX)
    for behaviour in [*behaviours.values(), config["DefaultCacheBehavior"]]:
        assert behaviour["TrustedKeyGroups"] == [{"Ref": "PhotoKeyGroup"}]
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        # the managed CachingOptimized policy: no query string in the cache key, so every signed URL
        # of a photo shares one edge copy
        assert (
            behaviour["CachePolicyId"] == template.CACHING_OPTIMIZED == "658327ea-f89d-4fab-a63d-7e88639e58f6"
        )
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "PhotoViewerHeaders"}
    group = resources(packaged)["PhotoKeyGroup"]["Properties"]["KeyGroupConfig"]
    assert group["Items"] == [{"Ref": "PhotoSigningKey"}]
    public_key = resources(packaged)["PhotoSigningKey"]["Properties"]["PublicKeyConfig"]
    assert public_key["EncodedKey"] == {"Ref": template.PHOTO_SIGNING_KEY_PARAMETER}
    assert template.PHOTO_SIGNING_KEY_PARAMETER in packaged["Parameters"]
    headers = resources(packaged)["PhotoViewerHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    (cache_control,) = headers["CustomHeadersConfig"]["Items"]
    assert cache_control["Header"] == "Cache-Control" and "private" in cache_control["Value"]
    assert "max-age=172800" in cache_control["Value"]  # as long as an answer's URL lives (2 days at most)
    assert packaged["Outputs"]["PhotoCdnDomain"] == {
        "Value": {"Fn::GetAtt": ["PhotoDistribution", "DomainName"]}
    }


def test_cloudfront_may_read_only_the_view_copies_and_thumbnails_of_the_photo_bucket(packaged):
    statements = resources(packaged)["PhotoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == [
        {"Fn::Sub": "${PhotoBucket.Arn}/views/*"},
        {"Fn::Sub": "${PhotoBucket.Arn}/thumbs/*"},
    ]  # never qc/ (originals), quarantine/ or idempotency/
    assert (
        "distribution/${PhotoDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    )
    bucket = resources(packaged)["PhotoBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_originals_stay_for_disputes_until_their_retention_and_views_stay_with_the_item(packaged):
    rules = {
        r["Id"]: r
        for r in resources(packaged)["PhotoBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    expire = rules["photo-originals-expire"]
    assert expire["Prefix"] == "qc/"
    assert expire["ExpirationInDays"]["Fn::If"][1] == {"Ref": "PhotoOriginalExpirationDays"}
    assert packaged["Parameters"]["PhotoOriginalExpirationDays"]["Default"] == 365
    assert not [r for r in rules.values() if str(r.get("Prefix", "")).startswith(template.PHOTO_CDN_PREFIXES)]


def test_the_functions_that_write_photo_urls_sign_them_for_the_distribution(packaged):
    functions = template.functions(packaged)
    for logical_id in ("APIHandler", "PhotoEvents", "OutboxEvents"):
        variables = functions[logical_id]["Properties"]["Environment"]["Variables"]
        assert variables["PHOTO_URLS"] == "cloudfront", logical_id
        assert variables["PHOTO_CDN_DOMAIN"] == {"Fn::GetAtt": ["PhotoDistribution", "DomainName"]}
        assert variables["PHOTO_CDN_KEY_ID"] == {"Ref": "PhotoSigningKey"}  # the public key's id
        # the private key is in a secret of its own: no payment or marketplace credentials for these
        assert variables["PHOTO_CDN_KEY_SECRET"] == {"Ref": "PhotoSigningKeySecret"}, logical_id
    for logical_id in ("PhotoEvents", "OutboxEvents"):
        variables = functions[logical_id]["Properties"]["Environment"]["Variables"]
        assert "SOURCE_CREDENTIALS_SECRET" not in variables, logical_id
    for function, grants in template.FUNCTION_GRANTS.items():
        signs = function in ("api_handler", "photo_events", "outbox_events")
        assert ("PhotoSigningKey" in grants) == signs, function
    secret = resources(packaged)["PhotoSigningKeySecret"]
    assert secret["Properties"]["Name"] == "procure-prod/photo-signing-key"
    assert secret["DeletionPolicy"] == "Retain"
    statements = template.policy("policy-prod-outbox_events.json")["Statement"]
    (statement,) = [s for s in statements if s["Sid"] == "PhotoSigningKey"]
    assert statement["Resource"] == ["arn:aws:secretsmanager:*:*:secret:procure-prod/photo-signing-key-*"]


def test_the_console_may_show_the_distributions_photos(packaged):
    csp = template.console_csp()["Fn::Sub"]
    img_src = next(d for d in csp.split(";") if d.strip().startswith("img-src"))
    assert "https://${PhotoDistribution.DomainName}" in img_src
