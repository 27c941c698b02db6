from django.urls import path

from rooms import views

app_name = "rooms"
urlpatterns = [
    path("chat/", views.chat_index, name="index"),
    path("chat/new/", views.new_group, name="new_group"),
    path("chat/lists/", views.room_lists, name="lists"),
    path("chat/people/", views.people, name="people"),
    path("chat/search/", views.search_messages, name="search"),
    path("chat/private/<str:username>/", views.private_room, name="private"),
    path("chat/older/<str:name>/", views.older_messages, name="older"),
    path("chat/join/<str:token>/", views.join_group, name="join"),
    path("chat/<str:name>/", views.room_page, name="room"),
    path("chat/<str:name>/messages/", views.post_message, name="post_message"),
    path("chat/<str:name>/invite/", views.invite_group, name="invite"),
    path("chat/<str:name>/messages/<int:pk>/versions/", views.message_versions, name="versions"),
    path("chat/<str:name>/read/", views.mark_read, name="read"),
    path("chat/<str:name>/mute/", views.mute_room, name="mute"),
    path("chat/<str:name>/edit/", views.edit_group, name="edit"),
    path("chat/<str:name>/delete/", views.delete_group, name="delete"),
    path("chat/<str:name>/leave/", views.leave_group, name="leave"),
    path("chat/<str:name>/members/", views.add_member, name="add_member"),
    path("api/chat/messages/", views.api_messages, name="api_public_messages"),
    path("api/rooms/<str:name>/messages/", views.api_messages, name="api_messages"),
    path("api/chat/messages/<int:pk>/", views.api_message, name="api_public_message"),
    path("api/rooms/<str:name>/messages/<int:pk>/", views.api_message, name="api_message"),
    path("api/chat/messages/<int:pk>/reactions/", views.api_reactions, name="api_public_reactions"),
    path("api/rooms/<str:name>/messages/<int:pk>/reactions/", views.api_reactions, name="api_reactions"),
    path("api/chat/changes/", views.api_changes, name="api_public_changes"),
    path("api/rooms/<str:name>/changes/", views.api_changes, name="api_changes"),
    path("api/search/", views.api_search, name="api_search"),
    path("api/rooms/<str:name>/search/", views.api_search, name="api_room_search"),
]
