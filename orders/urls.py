from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("orders/", views.order_list, name="list"),
    path("orders/new/", views.order_create, name="create"),
    path("orders/price/", views.price_preview, name="price"),
    path("orders/<int:pk>/", views.order_detail, name="detail"),
    path("orders/<int:pk>/claim/", views.order_claim, name="claim"),
    path("orders/<int:pk>/assign/", views.order_assign, name="assign"),
    path("orders/<int:pk>/status/", views.order_status, name="status"),
    path("orders/<int:pk>/progress/", views.order_progress, name="progress"),
    path("orders/<int:pk>/complete/", views.order_complete, name="complete"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="cancel"),
    path("orders/<int:pk>/proofs/", views.proof_upload, name="proof_upload"),
    path("orders/<int:pk>/proofs/<int:proof_id>/", views.proof_file, name="proof_file"),
    path("orders/<int:pk>/proofs/<int:proof_id>/thumbnail/", views.proof_thumbnail, name="proof_thumbnail"),
    path("staff/boosters/", views.booster_list, name="boosters"),
    path("staff/boosters/<int:pk>/", views.booster_approvals, name="booster_approvals"),
]
