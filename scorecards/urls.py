from django.urls import path

from .views import ScorecardListView

app_name = "scorecards"
urlpatterns = [path("", ScorecardListView.as_view(), name="scorecard_list")]
