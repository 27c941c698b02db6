from django.urls import path

from rooms import views

app_name = "rooms"
urlpatterns = [
    path("chat/", views.chat_index, name="index"),
    path("chat/new/", views.new_group, name="new_group"),
    path("chat/people/", views.people, name="people"),
    path("chat/private/<str:username>/", views.private_room, name="private"),
    path("chat/older/<str:name>/", views.older_messages, name="older"),
    path("chat/join/<str:token>/", views.join_group, name="join"),
    path("chat/<str:name>/", views.room_page, name="room"),
    path("chat/<str:name>/messages/", views.post_message, name="post_message"),
    path("chat/<str:name>/invite/", views.invite_group, name="invite"),
    path("chat/<str:name>/edit/", views.edit_group, name="edit"),
    path("chat/<str:name>/delete/", views.delete_group, name="delete"),
    path("chat/<str:name>/leave/", views.leave_group, name="leave"),
    path("chat/<str:name>/members/", views.add_member, name="add_member"),
    path("api/chat/messages/", views.api_messages, name="api_public_messages"),
    path("api/rooms/<str:name>/messages/", views.api_messages, name="api_messages"),
]
