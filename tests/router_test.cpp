#include <gtest/gtest.h>

#include "c10k/event_loop.hpp"
#include "c10k/http/router.hpp"

using namespace c10k;
using namespace c10k::http;

namespace {

handler says(std::string what) {
  return [what](request&) -> task<response> { co_return response::text(200, what); };
}

struct routed {
  int status;
  std::string body;
  std::string allow;
};

routed route(const router& r, std::string method, std::string target) {
  request_head head;
  head.method = method;
  head.target = target;
  request req(head, {});
  event_loop loop;
  response resp = loop.block_on(r.dispatch(req));
  std::string allow;
  for (auto& [n, v] : resp.headers())
    if (n == "Allow") allow = v;
  return {resp.status(), resp.body(), allow};
}

}  // namespace

TEST(router, matches_method_and_exact_path) {
  router r;
  r.get("/a", says("get a")).post("/a", says("post a")).get("/a/b", says("get a/b"));
  EXPECT_EQ(route(r, "GET", "/a").body, "get a");
  EXPECT_EQ(route(r, "POST", "/a").body, "post a");
  EXPECT_EQ(route(r, "GET", "/a/b?x=1").body, "get a/b");
}

TEST(router, path_parameters_bind_one_segment_each) {
  router r;
  r.get("/users/{id}/posts/{post}", [](request& q) -> task<response> {
    co_return response::text(200, std::string(q.param("id")) + "," + std::string(q.param("post")));
  });
  EXPECT_EQ(route(r, "GET", "/users/7/posts/99").body, "7,99");
  EXPECT_EQ(route(r, "GET", "/users//posts/99").status, 404);
  EXPECT_EQ(route(r, "GET", "/users/7/posts").status, 404);
}

TEST(router, a_rest_parameter_takes_the_remaining_path) {
  router r;
  r.get("/static/{path...}", [](request& q) -> task<response> { co_return response::text(200, std::string(q.param("path"))); });
  EXPECT_EQ(route(r, "GET", "/static/css/site.css").body, "css/site.css");
  EXPECT_EQ(route(r, "GET", "/static/").body, "");
  EXPECT_EQ(route(r, "GET", "/other/x").status, 404);
}

TEST(router, an_unknown_path_is_404_and_a_wrong_method_is_405_with_allow) {
  router r;
  r.get("/a", says("a")).put("/a", says("put"));
  EXPECT_EQ(route(r, "GET", "/b").status, 404);
  auto wrong = route(r, "POST", "/a");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, HEAD, PUT");
}

TEST(router, head_falls_back_to_the_get_route) {
  router r;
  r.get("/a", says("a"));
  EXPECT_EQ(route(r, "HEAD", "/a").body, "a");
}
