// scope_list: the cancel scopes of a loop's live workers, so that one call ends them all.
//
// A cancel_scope follows one chain of awaits; a load run has thousands of chains (one per
// connection or session), each in a scope of its own. Each worker holds a node, which links
// its scope into the list for as long as the worker lives, with no allocation.
#pragma once

#include <system_error>

#include "c10k/cancel.hpp"

namespace c10k::load {

class scope_list {
 public:
  class node {
   public:
    explicit node(scope_list& list) noexcept : list_(&list), next_(list.head_) {
      if (next_) next_->prev_ = this;
      list.head_ = this;
    }
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    ~node() {
      if (prev_) prev_->next_ = next_;
      else list_->head_ = next_;
      if (next_) next_->prev_ = prev_;
    }

    cancel_scope scope;

   private:
    friend class scope_list;
    scope_list* list_;
    node* prev_ = nullptr;
    node* next_;
  };

  scope_list() = default;
  scope_list(const scope_list&) = delete;
  scope_list& operator=(const scope_list&) = delete;

  // Cancels every scope in the list with `reason`. Cancelling only schedules the waiters
  // (nothing is resumed inline), so the list cannot change under the walk.
  void cancel_all(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept {
    for (node* n = head_; n; n = n->next_) n->scope.cancel(reason);
  }
  // True when no worker is linked.
  bool empty() const noexcept { return head_ == nullptr; }

 private:
  node* head_ = nullptr;
};

}  // namespace c10k::load
