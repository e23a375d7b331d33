#include "spec/http_url.h"

#include <gtest/gtest.h>

namespace drone::spec {
namespace {

TEST(HttpUrlTest, SplitsHostPortAndTarget) {
  Result<HttpUrl> u = ParseHttpUrl("http://127.0.0.1:8080/health?full=1");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/health?full=1");
}

TEST(HttpUrlTest, DefaultsPortAndPath) {
  Result<HttpUrl> u = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  Result<HttpUrl> q = ParseHttpUrl("http://h?x=1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->target, "/?x=1");
}

TEST(HttpUrlTest, BracketedIpv6) {
  Result<HttpUrl> u = ParseHttpUrl("http://[::1]:9/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9);
}

TEST(HttpUrlTest, RejectsWhatItCannotSend) {
  EXPECT_NE(ParseHttpUrl("https://h/").status().message().find("https is not supported"),
            std::string::npos);
  EXPECT_FALSE(ParseHttpUrl("h:80/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://:80/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h:0/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h:/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h:8x/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://u:p@h/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h/a b").ok());
  EXPECT_FALSE(ParseHttpUrl("http://[::1/").ok());
}

}  // namespace
}  // namespace drone::spec
