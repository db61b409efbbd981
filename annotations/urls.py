from django.contrib.auth import views as auth_views
from django.urls import path

from annotations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("taxonomies/", views.taxonomies, name="taxonomies"),
    path("taxonomies/<int:taxonomy_id>/", views.taxonomy_detail, name="taxonomy-detail"),
    path("exams/", views.exams, name="exams"),
]
