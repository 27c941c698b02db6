from django.urls import path

from rooms import file_views

app_name = "uploads"
urlpatterns = [
    path("chat/upload/<str:name>/", file_views.chat_upload, name="chat_upload"),
    path("files/message/<int:pk>/", file_views.message_file, name="message_file"),
    path("files/message/<int:pk>/thumb/", file_views.message_thumbnail, name="message_thumb"),
]
